"""Thrive Leads, Ovation and Comments data, seeded through the real plugins' own functions
(``../shared/reference/thrive.md``) and read back from their own tables. Tests that use these
carry the ``thrive`` marker: they skip on a stack profile without the real plugins.

    lead = add_lead(wp, "ann@example.test", "Ann")          # event-log row + contact row
    testimonial = add_testimonial(wp, "ann@example.test", "Ann", status="draft")
    counts = holdings(wp, "ann@example.test")               # rows per Thrive location
"""

from __future__ import annotations

from typing import Any

from wpprivsync.devstack import WordPressStack


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
