"""Multisite (issue 12 point 7), over real HTTP on a real network of two sites with the real
plugin activated on both: an erasure with account deletion never deletes a user who writes or
runs ANY site of the network, nor a super admin (wpmu_delete_user deletes network-wide, posts
included); /consents lists only the asking site's members."""

from __future__ import annotations

import secrets

import pytest

from support.wordpress import rest_session

NS = "wpprivsync/v1"


@pytest.fixture
def net(wp_multisite):
    return wp_multisite


@pytest.fixture
def daemon(wp_multisite_stack):
    return rest_session(wp_multisite_stack.service_user, wp_multisite_stack.service_app_password)


def add_user(stack, email: str, role_on_main: str) -> int:
    login = email.split("@")[0].replace(".", "") + secrets.token_hex(2)
    return int(stack.php(f"$id = wp_insert_user(['user_login' => '{login}', 'user_email' => '{email}', "
                         f"'user_pass' => wp_generate_password(), 'role' => '{role_on_main}']);"
                         " if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); } echo $id;"))


def join_second_site(stack, uid: int, role: str) -> None:
    stack.php(f"add_user_to_blog({stack.second_site_id}, {uid}, '{role}');")


def exists(stack, uid: int) -> bool:
    return stack.php(f"echo get_userdata({uid}) ? 1 : 0;") == "1"


def erase(stack, session, email: str, base: str | None = None) -> dict:
    resp = session.post(f"{base or stack.url}/?rest_route=/{NS}/erase", json={"email": email}, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_stack_is_a_network_of_two_sites_with_the_plugin_on_both(net, daemon):
    assert net.php("echo is_multisite() ? 1 : 0;") == "1"
    assert net.second_site_url.endswith("/site2") and net.second_site_id == 2
    assert net.php(f"switch_to_blog({net.second_site_id}); echo is_plugin_active('wpprivsync/wpprivsync.php') ? 1 : 0;") == "1"
    resp = daemon.get(f"{net.second_site_url}/?rest_route=/{NS}/status", timeout=60)
    assert resp.status_code == 200, resp.text


def test_an_editor_of_the_second_site_is_not_deleted_by_an_erasure_on_the_first(net, daemon):
    uid = add_user(net, "editor.elsewhere@example.test", "subscriber")
    join_second_site(net, uid, "editor")
    answer = erase(net, daemon, "editor.elsewhere@example.test")
    assert answer["account"]["deleted"] is False and "delete it by hand" in answer["account"]["reason"]
    assert exists(net, uid)


@pytest.mark.parametrize("role", ["administrator", "wpprivsync_daemon"])
def test_an_administrator_or_the_plugins_role_on_the_second_site_is_not_deleted(net, daemon, role):
    uid = add_user(net, f"{role.replace('_', '')}.site2@example.test", "subscriber")
    join_second_site(net, uid, role)
    assert erase(net, daemon, f"{role.replace('_', '')}.site2@example.test")["account"]["deleted"] is False
    assert exists(net, uid)


def test_a_super_admin_who_is_a_subscriber_on_the_site_is_not_deleted(net, daemon):
    uid = add_user(net, "super.admin@example.test", "subscriber")
    net.php(f"grant_super_admin({uid});")
    answer = erase(net, daemon, "super.admin@example.test")
    assert answer["account"]["deleted"] is False
    assert exists(net, uid) and net.php(f"echo is_super_admin({uid}) ? 1 : 0;") == "1"


def test_a_plain_subscriber_of_both_sites_is_deleted(net, daemon):
    uid = add_user(net, "plain.both@example.test", "subscriber")
    join_second_site(net, uid, "subscriber")
    answer = erase(net, daemon, "plain.both@example.test")
    assert answer["account"] == {"user_id": uid, "deleted": True, "reason": "account deleted"}
    assert not exists(net, uid)


def test_consents_on_the_second_site_list_only_its_members(net, daemon):
    only_main = add_user(net, "only.main@example.test", "subscriber")
    both = add_user(net, "on.both@example.test", "subscriber")
    join_second_site(net, both, "subscriber")
    only_second = int(net.php(
        f"$id = wpmu_create_user('onlysecond', wp_generate_password(), 'only.second@example.test');"
        f" add_user_to_blog({net.second_site_id}, $id, 'subscriber');"
        f" remove_user_from_blog($id, 1); echo $id;"))

    def listed(base: str) -> set[int]:
        resp = daemon.get(f"{base}/?rest_route=/{NS}/consents", params={"limit": 500}, timeout=60)
        assert resp.status_code == 200, resp.text
        return {u["id"] for u in resp.json()["users"]}

    second = listed(net.second_site_url)
    assert {both, only_second} <= second and only_main not in second
    main = listed(net.url)
    assert {only_main, both} <= main and only_second not in main


def test_consents_refuse_a_user_without_the_capability_on_that_site(net):
    # the subscriber user's Application Password works on the network, but it holds no
    # capability of the plugin on either site
    sub = rest_session(net.subscriber_user, net.subscriber_app_password)
    assert sub.get(f"{net.second_site_url}/?rest_route=/{NS}/consents", timeout=60).status_code == 403
