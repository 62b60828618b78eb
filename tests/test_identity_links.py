"""Linked records and rectification (issue 12.3, 12.4) over real HTTP: the real WordPress with
the real plugin, the local ActiveCampaign server, the daemon's App with its own store.

A person's WordPress user id, ActiveCampaign contact id and every email they had are linked;
a proven email change rectifies the contact; an erasure deletes the linked contact by id, covers
the past emails, and leaves nothing plain in the store."""

from __future__ import annotations

import json
import zipfile

import sqlalchemy as sa

from wpprivsync import services
from wpprivsync.identity import email_hash
from wpprivsync.store import schema
from wpprivsync.store.api import PersonLink

SECRET = "test-site-secret-0123456789"


def h(email: str) -> str:
    return email_hash(SECRET, email)


def confirmed_change(system, uid: int, new: str) -> None:
    """Core's profile.php confirmation flow: the pending address in _new_email, then the update."""
    system.php(f"wp_set_current_user({uid}); update_user_meta({uid}, '_new_email', ['hash' => 'h', 'newemail' => '{new}']);"
               f" wp_update_user(['ID' => {uid}, 'user_email' => '{new}']); delete_user_meta({uid}, '_new_email');")


def store_tables(system) -> dict[str, str]:
    """Every row of every table of the daemon's store, as text, by table."""
    engine = sa.create_engine(system.app.settings.store_url)
    try:
        with engine.connect() as conn:
            return {t.name: repr(list(conn.execute(sa.select(t)))) for t in schema.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_a_proven_email_change_rectifies_the_contact_and_erasure_covers_both_emails(system):
    old, new = "link.old@example.com", "link.new@example.com"
    uid = system.create_user(old, consent=True)
    system.sync()
    cid = system.ac.contact_view(old)["id"]
    person = system.app.store.person("test", wp_user_id=uid)
    assert person is not None and person.contact_ids == [cid]  # learned from the subscribe answer

    confirmed_change(system, uid, new)
    system.php(f"update_user_meta({uid}, 'first_name', 'Linda'); update_user_meta({uid}, 'last_name', 'Link');")
    system.sync()

    view = system.ac.contact_view(new)
    assert view is not None and view["id"] == cid  # the same contact, rectified
    assert (view["first_name"], view["last_name"]) == ("Linda", "Link")
    assert system.ac.contact_view(old) is None
    person = system.app.store.person("test", wp_user_id=uid)
    assert [(e.email, e.current) for e in person.emails] == [(new, True), (old, False)]
    rectified = [a for a in system.app.store.audit(site="test") if a.action == "rectify"]
    assert rectified and rectified[0].detail["contact_id"] == cid and rectified[0].email_hash == h(new)
    changed = [a for a in system.app.store.audit(site="test") if a.action == "email_changed"]
    assert changed and changed[0].detail["old_email_hash"] == h(old)
    # the outbox copies lost the old address and the names on acknowledgement
    outbox = system.php("global $wpdb; echo $wpdb->get_var(\"SELECT GROUP_CONCAT(payload) FROM "
                        "{$wpdb->prefix}wpprivsync_outbox\");")
    assert old not in outbox and new not in outbox and "Linda" not in outbox

    deletes_before = system.ac.counters()["contacts_deleted"]
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")
    system.sync()

    assert system.ac.counters()["contacts_deleted"] == deletes_before + 1
    assert system.ac.contact_view(new) is None
    for email in (old, new):  # every email the person had is suppressed
        assert system.app.store.is_suppressed("test", h(email))
    assert system.app.store.person("test", email_hash=h(old)) is None
    system.app.store.checkpoint()
    tables = store_tables(system)
    for table, rows in tables.items():
        assert old not in rows and new not in rows and "Linda" not in rows, table  # only keyed hashes remain
    assert h(old) in tables["person_emails"] and h(new) in tables["person_emails"]


def test_an_activecampaign_email_change_follows_the_link_never_the_wordpress_account(system):
    email, changed = "ac.side@example.com", "ac.changed@example.com"
    secret = system.php("echo Wpprivsync_Webhook::secret();")
    intake = f"{system.wp.url}/?rest_route=/wpprivsync/v1/webhook/activecampaign/{secret}"
    system.app.clients("test").activecampaign.create_webhook("wpprivsync-update", intake, ["update"],
                                                             ["public", "admin", "system"])
    uid = system.create_user(email, consent=True)
    system.sync()
    cid = system.ac.contact_view(email)["id"]

    system.ac.account().update_contact(cid, {"email": changed}, source="admin")  # edited in ActiveCampaign
    assert system.wait_outbox(1) >= 1
    system.sync()

    assert system.php(f"echo get_userdata({uid})->user_email;") == email  # WordPress keeps its own
    person = system.app.store.person("test", contact_id=cid)
    assert person is not None and person.wp_user_id == uid
    assert {e.email_hash for e in person.emails} == {h(email), h(changed)}
    assert person.current_email.email == email
    (entry,) = [a for a in system.app.store.audit(site="test") if a.action == "email_changed"]
    assert entry.detail["contact_id"] == cid and entry.detail["wordpress_account_changed"] is False
    assert changed not in repr(entry) and email not in repr(entry)

    # the account's erasure deletes the contact by its linked id, whatever its email is now
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")
    system.sync()
    assert system.ac.contact_view(changed) is None
    erased = [a for a in system.app.store.audit(site="test") if a.action == "delete_contact"]
    assert erased and erased[-1].detail["contact_ids"] == [cid]


def test_export_and_explain_cover_every_linked_contact_and_past_email(system, tmp_path):
    old, new = "exp.old@example.com", "exp.new@example.com"
    uid = system.create_user(old, consent=True)
    system.sync()
    cid = system.ac.contact_view(old)["id"]
    confirmed_change(system, uid, new)
    other = system.ac.add_contact("exp.other@example.com")  # a second contact, linked by a webhook
    system.app.store.link_people([PersonLink("test", "exp.other@example.com", h("exp.other@example.com"),
                                             wp_user_id=uid, contact_id=other)], system.app.clock())
    system.sync()

    found = services.export_now(system.app, "test", new, tmp_path / "out.zip")
    with zipfile.ZipFile(found["path"]) as z:
        data = json.loads(z.read(next(n for n in z.namelist() if n.endswith(".json"))))
    linked = data["linked_records"]
    assert linked["wordpress_user_id"] == uid
    assert {e["email"] for e in linked["emails"]} == {old, new, "exp.other@example.com"}
    assert [e["current"] for e in linked["emails"] if e["email"] == new] == [True]
    ids = {int(data["activecampaign"]["contact"]["id"])} | {int(c["contact"]["id"])
                                                           for c in data["activecampaign_other_contacts"]}
    assert ids == {cid, other}

    why = services.explain(system.app, "test", old)  # asked under the past email: the same person
    assert why["linked_records"]["wp_user_id"] == uid
    assert sorted(why["linked_records"]["contact_ids"]) == sorted([cid, other])
    assert old not in json.dumps(why["linked_records"]) and new not in json.dumps(why["linked_records"])
