"""Thrive Leads, Ovation and Comments data, seeded through the real plugins' own functions
(``../shared/reference/thrive.md``) and read back from their own tables. Tests that use these
carry the ``thrive`` marker: they skip on a stack profile without the real plugins.

    lead = add_lead(wp, "ann@example.test", "Ann")          # event-log row + contact row
    testimonial = add_testimonial(wp, "ann@example.test", "Ann", status="draft")
    counts = holdings(wp, "ann@example.test")               # rows per Thrive location
"""

from __future__ import annotations

from typing import Any

from wpprivsync_devkit.devstack import WordPressStack


def _q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def active(wp: WordPressStack) -> bool:
    """Whether the stack runs the real Thrive Leads and Ovation."""
    return {"thrive-leads", "thrive-ovation"} <= set(wp.plugins)


def add_lead(wp: WordPressStack, email: str, name: str, *, phone: str = "+48 600 100 200") -> dict[str, int]:
    """A Thrive Leads sign-up as ``tve_leads_register_conversion`` writes it: an event-log row
    (``user`` = the email) and a contact row linked to it through ``log_id``."""
    return dict(wp.php_json(f"""
        global $tvedb, $wpdb;
        $log = $tvedb->insert_event(['event_type' => TVE_LEADS_CONVERSION, 'main_group_id' => 0, 'form_type_id' => 0,
                                     'variation_key' => 0, 'user' => {_q(email)}, 'ip' => '10.1.2.3'], 0, false);
        $tvedb->tve_leads_register_contact($log, {_q(name)}, {_q(email)}, ['phone' => {_q(phone)}]);
        echo json_encode(['log_id' => (int) $log, 'contact_id' => (int) $wpdb->insert_id]);"""))


def add_testimonial(wp: WordPressStack, email: str, name: str, *, status: str = "publish",
                    text: str = "Great course.") -> int:
    """A testimonial created by ``tvo_create_testimonial`` (which publishes it), then moved to
    ``status`` (draft, pending, trash, ...) the way an editor would."""
    return int(wp.php(f"""
        $t = tvo_create_testimonial(['title' => 'From ' . {_q(name)}, 'content' => {_q(text)}, 'tags' => [],
                                     'status' => -1, 'source' => '', 'name' => {_q(name)}, 'email' => {_q(email)},
                                     'role' => 'Student', 'website_url' => 'https://example.test/' . rawurlencode({_q(name)})]);
        $id = (int) ($t['testimonial']['id'] ?? 0);
        if (!$id) {{ fwrite(STDERR, 'tvo_create_testimonial: ' . json_encode($t)); exit(1); }}
        if ({_q(status)} !== 'publish') {{ wp_update_post(['ID' => $id, 'post_status' => {_q(status)}]); }}
        echo $id;"""))


def testimonial_ids(wp: WordPressStack, email: str) -> list[int]:
    """Testimonials, in any status, whose stored email equals ``email`` ignoring case."""
    return [int(i) for i in wp.php_json(f"""
        global $wpdb;
        $ids = [];
        foreach ($wpdb->get_results("SELECT post_id, meta_value FROM $wpdb->postmeta WHERE meta_key = '_tvo_testimonial_attributes'") as $row) {{
            $m = maybe_unserialize($row->meta_value);
            if (is_array($m) && strtolower($m['email'] ?? '') === strtolower({_q(email)})) {{ $ids[] = (int) $row->post_id; }}
        }}
        echo json_encode($ids);""")]


def holdings(wp: WordPressStack, email: str) -> dict[str, Any]:
    """How many rows each Thrive Leads/Ovation location holds for ``email`` (any letter case)."""
    counts = dict(wp.php_json(f"""
        global $wpdb;
        $e = strtolower({_q(email)});
        $p = $wpdb->prefix;
        echo json_encode([
          'leads_contacts' => (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tve_leads_contacts WHERE LOWER(email) = %s", $e)),
          'leads_events' => (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tve_leads_event_log WHERE LOWER(user) = %s", $e)),
        ]);"""))
    counts["testimonials"] = len(testimonial_ids(wp, email))
    return counts


def add_thrive_comment(wp: WordPressStack, email: str, name: str, *, text: str = "A Thrive comment",
                       post_id: int = 1) -> int:
    """A comment saved through Thrive Comments (``tcmdb()->save_comment``: core's
    ``wp_new_comment`` plus the author's Gravatar picture URL as comment meta), approved, with
    the notification flag Thrive sets and the ``tcm_logs`` row Thrive writes on approval."""
    return int(wp.php(f"""
        $picture = 'https://secure.gravatar.com/avatar/' . md5(strtolower(trim({_q(email)}))) . '?s=512&d=mm';
        add_filter('pre_comment_approved', function () {{ return 1; }});
        add_filter('duplicate_comment_id', '__return_false');
        remove_all_actions('check_comment_flood');  // seeding posts comments faster than a person
        add_filter('wp_is_comment_flood', '__return_false');
        $_SERVER['REMOTE_ADDR'] = '192.0.2.10';
        $c = tcmdb()->save_comment(['comment_post_ID' => {post_id}, 'comment_author' => {_q(name)},
            'comment_author_email' => {_q(email)}, 'comment_author_url' => '', 'comment_content' => {_q(text)},
            'comment_type' => 'comment', 'comment_parent' => 0, 'user_id' => 0, 'comment_author_picture' => $picture]);
        if (!$c) {{ fwrite(STDERR, 'save_comment failed'); exit(1); }}
        update_comment_meta($c->comment_ID, 'author_subscribed', 1);
        tcmdb()->insert_log(['email' => {_q(email)}, 'achievement' => json_encode(['approved_comments' => 1])]);
        echo $c->comment_ID;"""))


def subscribe_to_post(wp: WordPressStack, email: str, post_id: int = 1) -> None:
    """Subscribes an email to a post's comments through Thrive Comments' own REST handler
    (``update_post_subscriber``: the post meta list and a ``tcm_email_hash`` row)."""
    wp.php(f"""
        $r = new WP_REST_Request('POST');
        $r->set_param('email', {_q(email)}); $r->set_param('post_id', {post_id}); $r->set_param('subscribe', '1');
        $answer = (new TCM_REST_Comments_Controller())->update_post_subscriber($r);
        if (is_wp_error($answer)) {{ fwrite(STDERR, $answer->get_error_message()); exit(1); }}""")


def failed_signup(wp: WordPressStack, email: str, name: str) -> None:
    """A sign-up to an email service without credentials (``tve_api_add_subscriber``): it
    fails and Thrive Dashboard writes the person into its API error log."""
    logged = wp.php(f"""
        global $wpdb; $t = $wpdb->prefix . 'tcb_api_error_log'; $before = (int) $wpdb->get_var("SELECT COUNT(*) FROM $t");
        foreach (['activecampaign', 'convertkit', 'getresponse', 'mailerlite', 'sendinblue'] as $key) {{
            try {{
                tve_api_add_subscriber($key, 'list-1', ['email' => {_q(email)}, 'name' => {_q(name)}, 'phone' => '+48 600 555 444']);
            }} catch (Throwable $e) {{ continue; }}  // this connection throws before it logs
            if ((int) $wpdb->get_var("SELECT COUNT(*) FROM $t") > $before) {{ echo $key; break; }}
        }}""")
    if not logged:
        raise AssertionError("no Thrive connection wrote its API error log")


def log_testimonial_email(wp: WordPressStack, testimonial_id: int, email: str) -> None:
    """Ovation's activity-log row for a testimonial request mailed to the person."""
    wp.php(f"tvo_log_testimonial_email_activity(['id' => {int(testimonial_id)}, 'email_address' => {_q(email)}]);")


def seed_everywhere(wp: WordPressStack, email: str, name: str) -> dict[str, Any]:
    """The person in every Thrive location of ../shared/reference/thrive.md, in mixed letter
    case where Thrive's own tools compare exactly, and testimonials in four statuses."""
    upper = email.upper()
    ids: dict[str, Any] = {"lead": add_lead(wp, email, name)}
    ids["lead_without_log"] = int(wp.php(f"""global $tvedb, $wpdb;
        $tvedb->tve_leads_register_contact('', {_q(name)}, {_q(upper)}, []); echo (int) $wpdb->insert_id;"""))
    ids["testimonials"] = [add_testimonial(wp, email, name),
                           add_testimonial(wp, email, name, status="draft"),
                           add_testimonial(wp, email, name, status="pending"),
                           add_testimonial(wp, email, name, status="trash"),
                           add_testimonial(wp, upper, name)]
    log_testimonial_email(wp, ids["testimonials"][0], email)
    ids["comment"] = add_thrive_comment(wp, email, name)
    subscribe_to_post(wp, email.title())  # another letter case than the erasure request's
    failed_signup(wp, email, name)
    return ids


def locations(wp: WordPressStack, email: str) -> dict[str, int]:
    """Rows holding ``email`` (any letter case) in every Thrive location, read from the
    plugins' own tables and meta."""
    return dict(wp.php_json(f"""
        global $wpdb; $p = $wpdb->prefix; $e = strtolower({_q(email)}); $like = '%' . $wpdb->esc_like($e) . '%';
        $n = fn($sql) => (int) $wpdb->get_var($sql);
        $subs = 0;
        foreach ($wpdb->get_col("SELECT meta_value FROM $wpdb->postmeta WHERE meta_key = 'tcm_post_subscribers'") as $v) {{
            foreach ((array) maybe_unserialize($v) as $s) {{ if (strtolower(trim($s)) === $e) {{ $subs++; }} }}
        }}
        $tests = 0;
        foreach ($wpdb->get_col("SELECT meta_value FROM $wpdb->postmeta WHERE meta_key = '_tvo_testimonial_attributes'") as $v) {{
            $m = maybe_unserialize($v); if (is_array($m) && strtolower($m['email'] ?? '') === $e) {{ $tests++; }}
        }}
        $comments = $wpdb->get_col($wpdb->prepare("SELECT comment_ID FROM $wpdb->comments WHERE LOWER(comment_author_email) = %s", $e));
        $md5 = md5($e);
        echo json_encode([
          'leads_contacts' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tve_leads_contacts WHERE LOWER(email) = %s", $e)),
          'leads_events' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tve_leads_event_log WHERE LOWER(user) = %s", $e)),
          'api_error_log' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tcb_api_error_log WHERE LOWER(api_data) LIKE %s", $like)),
          'tcm_logs' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tcm_logs WHERE LOWER(email) = %s", $e)),
          'tcm_email_hash' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tcm_email_hash WHERE LOWER(email) = %s", $e)),
          'post_subscriptions' => $subs,
          'testimonials' => $tests,
          'ovation_activity' => $n($wpdb->prepare("SELECT COUNT(*) FROM {{$p}}tvo_activity_log WHERE LOWER(activity_data) LIKE %s", $like)),
          'comments' => count($comments),
          'gravatar_meta' => $n($wpdb->prepare("SELECT COUNT(*) FROM $wpdb->commentmeta WHERE meta_value LIKE %s", '%' . $md5 . '%')),
        ]);"""))
