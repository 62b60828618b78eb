"""WordPress's own erasure flow (Tools → Erase Personal Data) finishes honestly: the account is
deleted too (never an editor's, an administrator's or the service account's), and the request
stays "Confirmed" until the daemon's heartbeat reports the person's erasure done."""

from __future__ import annotations

from support.wordpress import rest_session

NS = "wpprivsync/v1"


def core_erasure(wp, email: str, role: str) -> int:
    """What core's admin-ajax does: a confirmed request, every eraser run (here: ours, which
    records erasure.requested), then the completion and its action."""
    return int(wp.php(f"""
        require_once ABSPATH . 'wp-admin/includes/privacy-tools.php';
        wp_insert_user(['user_login' => '{role}-person', 'user_email' => '{email}', 'user_pass' => 'x', 'role' => '{role}']);
        $id = wp_create_user_request('{email}', 'remove_personal_data', [], 'confirmed');
        $_POST['id'] = $id;
        Wpprivsync_Privacy::eraser('{email}', 1);
        _wp_privacy_completed_request($id);
        do_action('wp_privacy_personal_data_erased', $id);
        echo $id;"""))


def status(wp, request_id: int) -> str:
    return wp.php(f"echo get_post_status({request_id});")


def test_the_account_goes_and_the_request_waits_for_the_daemon(wp):
    rid = core_erasure(wp, "sam.sub@example.com", "subscriber")
    assert wp.php("echo email_exists('sam.sub@example.com') ? 'yes' : 'no';") == "no"
    assert status(wp, rid) == "request-confirmed"
    assert wp.php(f"echo get_post_meta({rid}, '_wp_user_request_completed_timestamp', true);") == ""

    daemon = rest_session(wp.service_user, wp.service_app_password)
    events = daemon.get(f"{wp.url}/?rest_route=/{NS}/events", params={"after": 0}, timeout=60).json()["events"]
    (ev,) = [e for e in events if e["type"] == "erasure.requested"]
    digest = "ab" * 32
    def beat(state: str) -> None:
        body = {"version": "1", "queue": 0, "requests": [{"id": 7, "action": "erase", "email_hash": digest, "status": state}]}
        assert daemon.post(f"{wp.url}/?rest_route=/{NS}/heartbeat", json=body, timeout=60).status_code == 200

    beat("done")
    assert status(wp, rid) == "request-confirmed"  # the daemon has not taken the event yet: no link
    daemon.post(f"{wp.url}/?rest_route=/{NS}/events/ack", json={"ids": [ev["id"]], "hashes": {str(ev["id"]): digest}}, timeout=60)
    beat("in_progress")
    assert status(wp, rid) == "request-confirmed"
    beat("done")
    assert status(wp, rid) == "request-completed"
    assert wp.php(f"echo get_post_meta({rid}, '_wpprivsync_waiting_since', true);") == ""


def test_an_editors_account_is_never_deleted_by_it(wp):
    core_erasure(wp, "eddie.editor@example.com", "editor")
    assert wp.php("echo email_exists('eddie.editor@example.com') ? 'yes' : 'no';") == "yes"


def test_the_daemons_own_erasure_completes_at_once(wp):
    daemon = rest_session(wp.service_user, wp.service_app_password)
    answer = daemon.post(f"{wp.url}/?rest_route=/{NS}/erase", json={"email": "dee.direct@example.com"}, timeout=120).json()
    assert status(wp, answer["request_id"]) == "request-completed"
