"""Shrinking side through the web: staff listings, CSV upload, matches per listing, invitations."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from nlwerktdoor import reference
from nlwerktdoor.models import Invitation, Match, OutgoingEmail, StaffListing
from nlwerktdoor.services import invitations
from tests.factories import essential_skills, make_employer, make_listing, make_organisation, make_shortage, occupation_id


def csrf_from(client, url: str) -> str:
    """The CSRF token of a page's form, as a browser would send it back."""
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def listing_form(**overrides) -> dict:
    data = {
        "occupation": "cabinemedewerker",
        "count": "3",
        "postcode": "1118 AB",
        "max_distance_km": "30",
        "available_from": "2026-12-01",
        "available_until": "2027-06-30",
        "hours_per_week": "32",
        "transfer_type": "secondment",
        "certificates": ["BHV"],
        "notes": "Ervaren cabinepersoneel",
        "contact_email": "hr@example.org",
        "sector": "aviation",
    }
    data.update(overrides)
    return data


@pytest.fixture
def employer(app):
    return make_employer(side="shrinking")


def post_new_listing(client, **overrides):
    data = listing_form(csrf_token=csrf_from(client, "/aanbod/nieuw"), **overrides)
    return client.post("/aanbod/nieuw", data=data)


def listings(db):
    return db.session.scalars(sa.select(StaffListing).order_by(StaffListing.id)).all()


def test_new_listing_form_defaults_to_own_email_and_sector(employer, login_as, client):
    login_as(employer)
    page = client.get("/aanbod/nieuw").get_data(as_text=True)
    assert f'value="{employer.email}"' in page
    assert re.search(r'<option selected value="aviation">|<option value="aviation" selected>', page)


def test_create_listing_with_empty_skills_uses_essential_skills(employer, login_as, client, db):
    login_as(employer)
    response = post_new_listing(client)
    assert response.status_code == 302
    (listing,) = listings(db)
    assert listing.organisation_id == employer.organisation_id
    assert listing.occupation_id == occupation_id("flight attendant")
    assert listing.skills == essential_skills("flight attendant")
    assert (listing.count, listing.pc4, listing.max_distance_km, listing.hours_per_week) == (3, "1118", 30, 32)
    assert (listing.available_from, listing.available_until) == (date(2026, 12, 1), date(2027, 6, 30))
    assert listing.transfer_type == "secondment" and listing.certificates == ["BHV"] and listing.status == "open"
    assert response.headers["Location"].endswith(f"/aanbod/{listing.id}")
    detail = client.get(f"/aanbod/{listing.id}").get_data(as_text=True)
    assert "cabinemedewerker" in detail and "detachering" in detail


def test_create_listing_keeps_chosen_skills(employer, login_as, client, db):
    login_as(employer)
    chosen = essential_skills("flight attendant")[:2]
    typed = reference.skill_label(essential_skills("waiter/waitress")[0], "nl")
    assert post_new_listing(client, skills=[*chosen, typed]).status_code == 302
    (listing,) = listings(db)
    assert listing.skills == [*chosen, essential_skills("waiter/waitress")[0]]


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"postcode": "0000"}, "postcode", "Vul een geldige Nederlandse postcode in"),
        ({"postcode": "12345"}, "postcode", "Vul een geldige Nederlandse postcode in"),
        ({"occupation": "astronautenkok"}, "occupation", "Dit beroep kennen we niet"),
        ({"available_until": "2026-11-01"}, "available_until", "De einddatum ligt vóór de begindatum"),
        ({"count": "0"}, "count", "Vul een aantal van 1 tot 10.000 in"),
        ({"contact_email": "geen-adres"}, "contact_email", "e-mailadres"),
        ({"skills": ["geen echte vaardigheid xyz"]}, "skills", "Onbekende vaardigheid"),
        ({"certificates": ["rijbewijs-Z"]}, "certificates", ""),
    ],
)
def test_bad_listing_input_is_a_dutch_form_error_and_saves_nothing(employer, login_as, client, db, overrides, field, message):
    login_as(employer)
    response = post_new_listing(client, **overrides)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Controleer de gemarkeerde velden." in page
    assert message in page
    assert listings(db) == []


def test_edit_listing(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    login_as(employer)
    page = client.get(f"/aanbod/{listing.id}/bewerken").get_data(as_text=True)
    assert 'value="1012"' in page and "cabinemedewerker" in page
    data = listing_form(csrf_token=csrf_from(client, f"/aanbod/{listing.id}/bewerken"), occupation="ober/serveerster",
                        count="7", postcode="3511", transfer_type="permanent")
    response = client.post(f"/aanbod/{listing.id}/bewerken", data=data)
    assert response.status_code == 302
    db.session.refresh(listing)
    assert (listing.count, listing.pc4, listing.transfer_type) == (7, "3511", "permanent")
    assert listing.occupation_id == occupation_id("waiter/waitress")
    assert listing.skills == essential_skills("waiter/waitress")


def test_close_and_reopen_listing(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    login_as(employer)
    token = csrf_from(client, f"/aanbod/{listing.id}")
    assert client.post(f"/aanbod/{listing.id}/sluiten", data={"csrf_token": token}).status_code == 302
    db.session.refresh(listing)
    assert listing.status == "closed"
    assert "Heropenen" in client.get(f"/aanbod/{listing.id}").get_data(as_text=True)
    assert client.post(f"/aanbod/{listing.id}/heropenen", data={"csrf_token": token}).status_code == 302
    db.session.refresh(listing)
    assert listing.status == "open"


def test_post_without_csrf_token_is_refused(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    login_as(employer)
    assert client.post(f"/aanbod/{listing.id}/sluiten").status_code == 400
    db.session.refresh(listing)
    assert listing.status == "open"


def test_index_lists_own_listings_with_match_counts_and_unverified_banner(login_as, client):
    employer = make_employer(side="shrinking", verified=False)
    own = make_listing(employer.organisation, occupation="cook")
    other = make_listing(make_organisation(side="shrinking"), occupation="waiter/waitress")
    shortage = make_shortage(make_organisation(side="growing"))
    from nlwerktdoor.extensions import db

    db.session.add(Match(shortage_id=shortage.id, listing_id=own.id, score=0.7, distance_km=3.2, explanation={}))
    db.session.commit()
    login_as(employer)
    page = client.get("/aanbod/").get_data(as_text=True)
    assert "Je organisatie is nog niet geverifieerd" in page
    assert f"/aanbod/{own.id}" in page and "kok" in page
    assert f"/aanbod/{other.id}" not in page and "ober/serveerster" not in page
    assert re.search(r"<td>open</td>|badge open", page)
    assert re.search(r"<td>1</td>\s*</tr>", page)


def test_verified_organisation_sees_no_banner(employer, login_as, client):
    login_as(employer)
    assert "nog niet geverifieerd" not in client.get("/aanbod/").get_data(as_text=True)


def test_listing_detail_shows_matches_with_explanation(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    growing = make_organisation(side="growing", name="Zorggroep Test")
    shortage = make_shortage(growing, title="Zorghulp avonddienst")
    skill = listing.skills[0]
    match = Match(shortage_id=shortage.id, listing_id=listing.id, score=0.62, distance_km=4.4, growing_status="yes",
                  explanation={"matched": [skill], "related": [], "missing": [], "coverage": 0.6})
    db.session.add(match)
    db.session.commit()
    login_as(employer)
    page = client.get(f"/aanbod/{listing.id}").get_data(as_text=True)
    assert "Zorghulp avonddienst" in page and "Zorggroep Test" in page
    assert f"/matches/{match.id}" in page
    assert "62%" in page and "4.4 km" in page
    assert reference.skill_label(skill, "nl") in page


# ---------------------------------------------------------------- CSV upload


GOOD_CSV = (
    "external_ref;employer_kvk;employer_name;contact_email;sector;occupation;skills;count;postcode;max_distance_km;"
    "available_from;available_until;hours_per_week;transfer_type;certificates\n"
    "a-1;;;;;cabinemedewerker;;4;1118;30;2026-12-01;;32;either;BHV\n"
    "a-2;;;;;kok;;2;1011 AB;20;2026-12-15;2027-03-01;24;detachering;HACCP\n"
)


def upload(client, url: str, content: str, filename: str = "aanbod.csv"):
    import io

    token = csrf_from(client, url)
    return client.post(url, data={"csrf_token": token, "file": (io.BytesIO(content.encode("utf-8")), filename)},
                       content_type="multipart/form-data")


def test_csv_upload_imports_for_own_organisation(employer, login_as, client, db):
    login_as(employer)
    response = upload(client, "/aanbod/upload", GOOD_CSV)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert {(l.external_ref, l.organisation_id, l.count) for l in listings(db)} == {
        ("a-1", employer.organisation_id, 4), ("a-2", employer.organisation_id, 2)}
    assert "2 nieuw" in client.get("/aanbod/").get_data(as_text=True)


def test_csv_upload_with_bad_rows_shows_every_error_and_imports_nothing(employer, login_as, client, db):
    bad = GOOD_CSV + "a-3;;;;;kok;;2;0000;20;2026-12-15;;24;either;ZZZ\n" + "a-4;;;;;kok;;2;1011;20;morgen;;24;either;\n"
    login_as(employer)
    response = upload(client, "/aanbod/upload", bad)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Er is niets geïmporteerd" in page
    rows = re.findall(r"<tr><td>(\d+)</td><td>([a-z_]+)</td>", page)
    assert ("4", "postcode") in rows and ("4", "certificates") in rows and ("5", "available_from") in rows
    assert listings(db) == []


@pytest.mark.parametrize("filename, content, message", [
    ("aanbod.xlsx", GOOD_CSV, "Alleen .csv-bestanden"),
    ("aanbod.csv", "", "Het bestand is leeg"),
])
def test_csv_upload_refuses_wrong_files(employer, login_as, client, db, filename, content, message):
    login_as(employer)
    response = upload(client, "/aanbod/upload", content, filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert listings(db) == []


def test_example_csv_is_downloadable_and_imports_cleanly(employer, login_as, client, db):
    login_as(employer)
    page = client.get("/aanbod/upload").get_data(as_text=True)
    assert "external_ref;employer_kvk;employer_name;contact_email" in page
    response = client.get("/aanbod/upload/voorbeeld.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    example = response.get_data(as_text=True)
    assert employer.organisation.kvk_number in example
    assert upload(client, "/aanbod/upload", example.lstrip("\ufeff")).status_code == 302
    assert len(listings(db)) == 2


# ---------------------------------------------------------------- invitations


def invitation_emails(db):
    return db.session.scalars(
        sa.select(OutgoingEmail).where(OutgoingEmail.template == "invitation").order_by(OutgoingEmail.id)).all()


def test_invite_queues_exactly_one_email_per_address(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    login_as(employer)
    token = csrf_from(client, f"/aanbod/{listing.id}")
    emails = "Anna@Example.org\nbram@example.org; anna@example.org\n\n  chris@example.org  "
    response = client.post(f"/aanbod/{listing.id}/uitnodigen", data={"csrf_token": token, "emails": emails})
    assert response.status_code == 302
    queued = invitation_emails(db)
    assert sorted(e.recipient for e in queued) == ["anna@example.org", "bram@example.org", "chris@example.org"]
    invites = db.session.scalars(sa.select(Invitation)).all()
    assert len(invites) == 3 and len({i.token for i in invites}) == 3
    for email in queued:
        invite = next(i for i in invites if i.email == email.recipient)
        assert email.data["link"] == f"http://nlwerktdoor.test/werkenden/uitnodiging/{invite.token}"
        assert email.data["organisation"] == employer.organisation.name
    assert "3 uitnodigingen verstuurd" in client.get(f"/aanbod/{listing.id}").get_data(as_text=True)


def test_reinviting_resends_the_same_invitation(employer, db, app):
    listing = make_listing(employer.organisation)
    with app.test_request_context():
        first = invitations.create_invitation(listing.id, "dana@example.org", employer)
        again = invitations.create_invitation(listing.id, "DANA@example.org", employer)
    assert first.id == again.id
    queued = invitation_emails(db)
    assert [e.idempotency_key for e in queued] == [f"invitation:{first.id}:1", f"invitation:{first.id}:2"]
    assert queued[0].data["link"] == queued[1].data["link"]


def test_invitation_email_renders_in_dutch(employer, db, app):
    from nlwerktdoor import mail

    listing = make_listing(employer.organisation)
    with app.test_request_context():
        invitations.create_invitation(listing.id, "eva@example.org", employer)
        (email,) = invitation_emails(db)
        message = mail.compose(email.template, email.locale, email.recipient, email.data)
    assert employer.organisation.name in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert email.data["link"] in body and "cabinemedewerker" in body


def test_invalid_invite_addresses_are_a_form_error_and_nothing_is_queued(employer, login_as, client, db):
    listing = make_listing(employer.organisation)
    login_as(employer)
    token = csrf_from(client, f"/aanbod/{listing.id}")
    response = client.post(f"/aanbod/{listing.id}/uitnodigen",
                           data={"csrf_token": token, "emails": "goed@example.org\nniet-goed@\n"})
    assert response.status_code == 200
    assert "Geen geldig e-mailadres: niet-goed@" in response.get_data(as_text=True)
    assert invitation_emails(db) == [] and db.session.scalars(sa.select(Invitation)).all() == []


def test_invitation_lifecycle(employer, db, app):
    from nlwerktdoor.models import WorkerProfile

    listing = make_listing(employer.organisation)
    with app.test_request_context():
        invitation = invitations.create_invitation(listing.id, "fleur@example.org", employer)
    assert invitations.find_open_invitation(invitation.token) == invitation
    assert invitations.find_open_invitation("nonsense") is None
    defaults = invitations.profile_defaults(invitation)
    assert defaults["occupation_id"] == listing.occupation_id and defaults["pc4"] == listing.pc4
    profile = WorkerProfile(occupation_id=listing.occupation_id, pc4="1012", available_from=date(2026, 12, 1))
    invitations.mark_accepted(invitation, profile)
    assert profile.listing_id == listing.id and invitation.accepted_at is not None
    db.session.commit()
    assert invitations.find_open_invitation(invitation.token) is None
    # Someone who already accepted gets no second email.
    with app.test_request_context():
        invitations.create_invitation(listing.id, "fleur@example.org", employer)
    assert len(invitation_emails(db)) == 1
