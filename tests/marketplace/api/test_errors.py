"""Bad input of every kind gets a problem body that says what is wrong, never a server error."""

import pytest


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_unknown_api_routes_answer_in_the_api_error_shape(buyer):
    _, api = buyer
    body = problem(api.get("/api/v1/no-such-thing/"), 404)
    assert "/api/v1/docs/" in body["detail"]


def test_a_mangled_cursor_is_a_bad_parameter(buyer):
    _, api = buyer
    body = problem(api.get("/api/v1/licences/", {"cursor": "not-a-cursor"}), 400)
    assert list(body["errors"]) == ["cursor"]


def test_nul_characters_in_the_url_are_refused(buyer):
    _, api = buyer
    body = problem(api.get("/api/v1/usage/summary/?licence=lic_%00x"), 400)
    assert "NUL" in body["detail"]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"events": [{"event_id": "a\\u0000b"}]}', "$.events[0].event_id"),
        (b'{"events": [{"event_id": "ok"}, {"metric": "\\ud83d"}]}', "$.events[1].metric"),
    ],
)
def test_strings_that_cannot_be_stored_are_named(buyer, raw, where):
    _, api = buyer
    body = problem(api.post("/api/v1/usage/events/", raw, content_type="application/json"), 400)
    assert where in body["detail"]


def test_paired_surrogates_are_ordinary_text(buyer):
    _, api = buyer
    raw = b'{"events": [{"event_id": "\\ud83c\\udfac", "licence": "lic_none"}]}'
    body = api.post("/api/v1/usage/events/", raw, content_type="application/json").json()
    assert body["errors"][0]["event_id"] == "\U0001f3ac"


def test_bodies_must_be_json(buyer):
    _, api = buyer
    problem(api.post("/api/v1/quotes/", {"offer": 1}, format="multipart"), 415)
    problem(api.post("/api/v1/quotes/", b"{not json", content_type="application/json"), 400)


def test_an_empty_batch_is_refused(buyer):
    _, api = buyer
    body = problem(api.post("/api/v1/usage/events/", {"events": []}, format="json"), 400)
    assert "events" in body["errors"]
