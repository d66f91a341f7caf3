"""The console in Debian's Chromium against a real ``tokenward serve`` (issue 19)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.console.conftest import ADMIN, ROOT, Server, sign_in
from tokenward.console.routes import DELIVERY_PAGE_SIZE

XSS_NAME = "<img src=x onerror=alert(1)>"


def create_in_console(page: Page, name: str, **fields: str) -> str:
    """Creates a token in the default tenant through the form; returns the copied secret."""
    page.goto("/console/t/default/tokens")
    page.get_by_role("link", name="Create a token").click()
    page.get_by_label("Name", exact=True).fill(name)
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Create the token").click()
    expect(page.get_by_role("heading", name=re.compile("Token created"))).to_be_visible()
    expect(page.get_by_text("it is never shown again")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    secret: str = page.evaluate("navigator.clipboard.readText()")
    return secret


def serious_violations(page: Page) -> list[tuple[str, str, list[str]]]:
    """What axe-core finds serious or critical on the page: (rule, impact, where)."""
    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def csrf_of(page: Page) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return value


def token_id_of(page: Page) -> str:
    link = page.get_by_role("link", name="Go to the token").get_attribute("href")
    assert link
    return link.rsplit("/", 1)[1]


def test_root_creates_a_token_and_its_copied_secret_verifies_once_shown(
    page: Page, server: Server
) -> None:
    sign_in(page, ADMIN)
    expect(page.get_by_role("heading", name="Overview of tenant default")).to_be_visible()
    secret = create_in_console(
        page, "copied in a browser", **{"Scopes (one a line, or separated by commas)": "read"}
    )
    assert secret.startswith("tw_")
    verdict = server.verify(secret)
    assert verdict["valid"] is True and verdict["token"]["name"] == "copied in a browser"

    # Leave and come back: the page that showed it is not kept and the secret is nowhere.
    page.get_by_role("link", name="Go to the token").click()
    assert secret not in page.content()
    # Back to the page that showed it: the browser kept no copy (no-store) and will not
    # send the form again by itself.
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
        page.go_back()
    page.wait_for_url("chrome-error://**")  # the browser's own "confirm resubmission" page
    assert secret not in page.content()
    page.goto("/console/t/default/tokens")
    assert secret not in page.content()


def test_secret_pages_are_not_stored_and_carry_strict_headers(page: Page, server: Server) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/t/default/tokens/new")
    page.get_by_label("Name", exact=True).fill("headers")
    with page.expect_response(re.compile(r"/tokens/new$")) as info:
        page.get_by_role("button", name="Create the token").click()
    headers = info.value.headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy


def test_disable_in_the_console_makes_verify_answer_disabled(page: Page, server: Server) -> None:
    sign_in(page, ADMIN)
    secret = create_in_console(page, "to be disabled")
    page.get_by_role("link", name="Go to the token").click()
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".fields .state")).to_have_text("disabled")
    verdict = server.verify(secret)
    assert verdict["valid"] is False and verdict["code"] == "DISABLED"
    page.get_by_role("button", name="Enable").click()
    expect(page.locator(".fields .state")).to_have_text("active")
    assert server.verify(secret)["valid"] is True


def test_rotate_with_grace_then_the_old_secret_is_refused(page: Page, server: Server) -> None:
    sign_in(page, ADMIN)
    old = create_in_console(page, "to be rotated")
    page.get_by_role("link", name="Go to the token").click()
    page.get_by_label("Old secret keeps working for (seconds)").fill("2")
    with page.expect_response(re.compile(r"/rotate$")) as shown:
        page.get_by_role("button", name="Rotate the secret").click()
    assert shown.value.headers["cache-control"] == "no-store"  # the page shows a secret
    expect(page.get_by_role("heading", name=re.compile("Secret rotated"))).to_be_visible()
    new = page.get_by_label("Secret", exact=True).input_value()
    assert new != old and server.verify(new)["valid"] is True
    assert server.verify(old)["valid"] is True  # within the grace
    deadline = time.monotonic() + 10
    while server.verify(old)["valid"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.verify(old)["valid"] is False
    assert server.verify(new)["valid"] is True


def test_viewer_has_no_create_button_and_a_forged_post_is_refused(
    page: Page, context: BrowserContext, server: Server
) -> None:
    viewer = server.issue(name="console viewer", role="viewer", audience=["tokenward"])
    sign_in(page, viewer["secret"])
    expect(page.get_by_text("Signed in as")).to_contain_text("viewer")
    page.goto("/console/t/default/tokens")
    expect(page.get_by_role("heading", name="Tokens of tenant default")).to_be_visible()
    assert page.get_by_role("link", name="Create a token").count() == 0
    page.goto(f"/console/t/default/tokens/{viewer['id']}")
    assert page.get_by_role("button", name="Disable").count() == 0
    assert page.get_by_role("link", name="Audit log").count() == 0

    forged = context.request.post(
        "/console/t/default/tokens/new",
        form={"csrf": csrf_of(page), "name": "forged by a viewer", "role": "viewer"},
    )
    assert forged.status == 403
    disabled = context.request.post(
        f"/console/t/default/tokens/{viewer['id']}/disable", form={"csrf": csrf_of(page)}
    )
    assert disabled.status == 403
    with server.api() as http:
        found = http.get(
            "/v1/tenants/default/tokens",
            params={"name": "forged by a viewer"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        ).json()
    assert found["total"] == 0
    assert server.verify(viewer["secret"])["valid"] is True


def test_cross_site_post_without_the_csrf_token_is_refused(
    page: Page, context: BrowserContext, server: Server
) -> None:
    sign_in(page, ADMIN)
    victim = server.issue(name="csrf victim")
    without = context.request.post(f"/console/t/default/tokens/{victim['id']}/disable", form={})
    assert without.status == 403
    wrong = context.request.post(
        f"/console/t/default/tokens/{victim['id']}/disable", form={"csrf": "0" * 64}
    )
    assert wrong.status == 403
    other_site = context.request.post(
        f"/console/t/default/tokens/{victim['id']}/disable",
        form={"csrf": csrf_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status == 403
    assert server.verify(victim["secret"])["valid"] is True


def test_names_typed_by_users_render_as_text(page: Page, server: Server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    token = server.issue(
        name=XSS_NAME,
        description="<script>alert(2)</script>",
        scopes=['"><svg onload=alert(3)>'],
        metadata={"note": "</pre><img src=y onerror=alert(4)>"},
    )
    sign_in(page, ADMIN)
    page.goto(f"/console/t/default/tokens?q={XSS_NAME[:4]}")
    expect(page.get_by_role("link", name=XSS_NAME)).to_be_visible()
    page.goto(f"/console/t/default/tokens/{token['id']}")
    expect(page.get_by_role("heading", name=f"Token {XSS_NAME}")).to_be_visible()
    expect(page.get_by_text("<script>alert(2)</script>")).to_be_visible()
    page.get_by_role("link", name="Edit or rename").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value(XSS_NAME)
    assert page.locator("img").count() == 0 and page.locator("svg").count() == 0
    assert dialogs == []


def test_session_ends_when_its_token_is_disabled_through_the_api(
    page: Page, server: Server
) -> None:
    admin = server.issue(name="console admin", role="admin", audience=["tokenward"])
    sign_in(page, admin["secret"])
    page.goto("/console/audit")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    with server.api() as http:
        response = http.post(
            f"/v1/tenants/default/tokens/{admin['id']}/disable",
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert response.status_code == 200
    page.goto("/console/audit")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.endswith("/console/sign-in")


def test_sign_out_ends_the_session(page: Page, context: BrowserContext, server: Server) -> None:
    sign_in(page, ADMIN)
    cookie = next(c for c in context.cookies() if c["name"] == "tw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert ADMIN not in str(context.cookies())
    assert page.evaluate("JSON.stringify(localStorage) + document.cookie") == "{}"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.add_cookies([cookie])  # replaying the old id opens nothing
    page.goto("/console/t/default/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_credential_is_refused_with_a_message(page: Page) -> None:
    page.goto("/console/")
    page.get_by_label("Credential").fill("tw_not-a-real-credential")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")


def test_search_as_you_type_narrows_the_list(page: Page, server: Server) -> None:
    server.issue(name="needle-one-of-a-kind")
    server.issue(name="haystack-token")
    sign_in(page, ADMIN)
    page.goto("/console/t/default/tokens")
    page.get_by_label("Name contains").press_sequentially("needle-one")
    expect(page.locator("#total")).to_have_text("1")
    expect(page.get_by_role("link", name="needle-one-of-a-kind")).to_be_visible()
    assert "q=needle-one" in page.url


def test_root_creates_and_deletes_a_tenant_with_confirmation(page: Page) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/tenants")
    page.get_by_label("New tenant's name").fill("console-made")
    page.get_by_role("button", name="Create the tenant").click()
    expect(page.get_by_role("link", name="console-made", exact=True)).to_be_visible()
    page.get_by_role("link", name="Delete console-made…").click()
    expect(page.get_by_role("heading", name="Delete tenant console-made")).to_be_visible()
    page.get_by_role("button", name="Delete the tenant").click()
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    assert page.get_by_role("link", name="console-made", exact=True).count() == 0


def test_every_page_has_no_serious_accessibility_violation(
    page: Page, server: Server, artifacts: Path
) -> None:
    token = server.issue(name="accessible", recoverable=True, metadata={"team": "a11y"})
    pages: dict[str, str] = {}

    def check(name: str) -> None:
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        pages[name] = page.url
        serious = serious_violations(page)
        assert serious == [], f"{name}: {serious}"

    page.goto("/console/")
    check("sign-in")
    sign_in(page, ADMIN)
    check("overview")
    page.goto("/console/t/default/tokens")
    check("tokens")
    page.goto(f"/console/t/default/tokens/{token['id']}")
    check("token")
    page.goto(f"/console/t/default/tokens/{token['id']}/edit")
    check("edit")
    page.goto(f"/console/t/default/tokens/{token['id']}/delete")
    check("delete")
    page.goto(f"/console/t/default/tokens/{token['id']}")
    page.get_by_role("button", name="Reveal the secret").click()
    expect(page.get_by_label("Secret", exact=True)).to_have_value(token["secret"])
    check("reveal")
    page.goto("/console/t/default/tokens/new")
    check("create")
    page.get_by_label("Name", exact=True).fill("accessible too")
    page.get_by_role("button", name="Create the token").click()
    check("secret")
    page.goto("/console/tenants")
    check("tenants")
    page.goto("/console/audit")
    check("audit")
    page.goto("/console/t/default/tokens/999999999")
    check("not-found")
    page.goto("/console/t/default/policy")
    check("policy")
    page.goto("/console/t/default/webhooks")
    check("webhooks")
    page.get_by_label("URL (http or https)").fill("https://example.com/accessible")
    page.get_by_label("token.created").check()
    page.get_by_role("button", name="Add the webhook").click()
    check("webhook-secret")
    page.get_by_role("link", name="Go to the webhook").click()
    check("webhook")
    page.get_by_role("link", name="Delete…").click()
    check("webhook-delete")
    page.get_by_role("button", name="Delete the webhook").click()  # no events for the others
    make_tenant(server, "confirmed")
    page.goto("/console/tenants/confirmed/delete")
    check("tenant-delete")


def test_the_keyboard_alone_signs_in_and_reaches_a_token(page: Page, server: Server) -> None:
    token = server.issue(name="reached by keyboard")
    page.goto("/console/")
    page.keyboard.type(ADMIN)  # the credential field has the focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview of tenant default")).to_be_visible()
    focused = []
    for _ in range(4):  # skip link, brand, Overview, Tokens
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert focused == ["Skip to the content", "tokenward", "Overview", "Tokens"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Tokens of tenant default")).to_be_visible()
    page.get_by_label("Name contains").focus()
    page.keyboard.type("reached by keyboard")
    page.keyboard.press("Enter")
    link = page.get_by_role("link", name="reached by keyboard")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Token reached by keyboard")).to_be_visible()
    assert page.url.endswith(f"/tokens/{token['id']}")


def test_create_with_every_field_then_edit_reveal_and_delete(page: Page, server: Server) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/t/default/tokens/new")
    page.get_by_label("Name", exact=True).fill("every field")
    page.get_by_label("Description").fill("made in the console")
    page.get_by_label("Type").select_option("user")
    page.get_by_label("Principal").fill("alice")
    page.get_by_label("Role").select_option("editor")
    page.get_by_label("Scopes").fill("read, write")
    page.get_by_label("Audience").fill("billing")
    page.get_by_label("Resources", exact=True).fill("broker-1")
    page.get_by_label("Restricted to these resources").check()
    page.get_by_label("After a lifetime").check()
    page.get_by_label("Lifetime", exact=True).fill("3")
    page.get_by_label("Unit of the lifetime").select_option("days")
    page.get_by_label("Recoverable").check()
    page.get_by_label("Metadata").fill('{"team": "billing"}')
    page.get_by_role("button", name="Create the token").click()
    secret = page.get_by_label("Secret", exact=True).input_value()
    token_id = token_id_of(page)
    with server.api() as http:
        body = http.get(f"/v1/tenants/default/tokens/{token_id}", headers=ROOT).json()
    assert body["type"] == "user" and body["principal"] == "alice"
    assert body["role"] == "editor" and body["scopes"] == ["read", "write"]
    assert body["audience"] == ["billing"] and body["resources"] == ["broker-1"]
    assert body["restricted"] is True and body["recoverable"] is True
    assert body["metadata"] == {"team": "billing"} and body["expires_at"] is not None

    page.get_by_role("link", name="Go to the token").click()
    page.get_by_role("link", name="Edit or rename").click()
    page.get_by_label("Name", exact=True).fill("renamed in the console")
    page.get_by_label("Scopes").fill("read")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Token renamed in the console")).to_be_visible()
    with server.api() as http:
        body = http.get(f"/v1/tenants/default/tokens/{token_id}", headers=ROOT).json()
    assert body["name"] == "renamed in the console" and body["scopes"] == ["read"]
    assert body["metadata"] == {"team": "billing"} and body["audience"] == ["billing"]

    with page.expect_response(re.compile(r"/reveal$")) as shown:
        page.get_by_role("button", name="Reveal the secret").click()
    assert shown.value.headers["cache-control"] == "no-store"  # the page shows a secret
    expect(page.get_by_label("Secret", exact=True)).to_have_value(secret)
    page.get_by_role("link", name="Go to the token").click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete the token").click()
    expect(page.get_by_role("heading", name="Tokens of tenant default")).to_be_visible()
    assert server.verify(secret)["code"] == "NOT_FOUND"


def test_verifications_show_by_outcome_in_the_usage_charts(
    page: Page, server: Server, artifacts: Path
) -> None:
    token = server.issue(name="charted <b>bold</b>")
    for _ in range(3):
        assert server.verify(token["secret"])["valid"] is True
    with server.api() as http:
        disabled = http.post(f"/v1/tenants/default/tokens/{token['id']}/disable", headers=ROOT)
        assert disabled.status_code == 200
    for _ in range(2):
        assert server.verify(token["secret"])["code"] == "DISABLED"
    sign_in(page, ADMIN)
    hourly = page.locator("figure[data-chart=hourly]")
    deadline = time.monotonic() + 30  # the flush is every half second; a loaded machine lags
    while time.monotonic() < deadline:
        page.goto(f"/console/t/default/tokens/{token['id']}")
        if hourly.get_attribute("data-total") == "5":
            break
        time.sleep(0.5)
    expect(hourly.locator("figcaption")).to_have_text(
        "Verifications per hour, last 24 hours: 5 verifications"
    )
    svg = hourly.locator("svg[role=img]").first
    expect(svg).to_have_accessible_name("Verifications per hour, last 24 hours")
    expect(svg).to_have_accessible_description(
        re.compile(r"5 verifications \(VALID 3, DISABLED 2\)")
    )
    expect(hourly.locator("rect[fill='#1d6b2c']")).to_have_count(2)  # a bar and the legend's
    hourly.get_by_text("as a table").click()
    row = hourly.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(["3", "2", "5"])
    expect(page.locator("figure[data-chart=daily]")).to_have_attribute("data-total", "5")
    assert page.locator("[data-usage-charts]").count() == 0  # the placeholder is gone

    # The tenant's overview counts the same verifications among all of its tokens'.
    page.goto("/console/t/default/")
    daily = page.locator("figure[data-chart=daily]")
    assert int(daily.get_attribute("data-total") or "0") >= 5
    expect(page.get_by_role("link", name="charted <b>bold</b>")).to_be_visible()
    page.screenshot(path=str(artifacts / "overview-usage.png"), full_page=True)


def test_controls_set_in_the_form_hold_at_verify_and_credits_are_adjusted(
    page: Page, server: Server
) -> None:
    sign_in(page, ADMIN)
    secret = create_in_console(
        page,
        "controlled",
        **{
            "Credits (verifications left; empty: unlimited)": "2",
            "Rate limits (one a line": "per-minute 100 60",
        },
    )
    page.get_by_role("link", name="Go to the token").click()
    expect(page.locator(".fields")).to_contain_text("per-minute: 100 per 60 s")
    expect(page.locator("[data-credits]")).to_contain_text("2")
    assert [server.verify(secret)["code"] for _ in range(3)] == ["VALID", "VALID", "USAGE_EXCEEDED"]

    page.get_by_label("Credits:").select_option("add")
    page.get_by_label("Number of credits").fill("1")
    page.get_by_role("button", name="Adjust the credits").click()
    expect(page.get_by_role("heading", name="Token controlled")).to_be_visible()
    assert server.verify(secret)["code"] == "VALID"
    assert server.verify(secret)["code"] == "USAGE_EXCEEDED"

    # An allowlist without this machine's address refuses it; emptied, any address passes.
    page.get_by_role("link", name="Edit or rename").click()
    expect(page.get_by_label("Rate limits (one a line")).to_have_value("per-minute 100 60")
    page.get_by_label("IP allowlist").fill("10.0.0.0/8")
    page.get_by_label("Credits (verifications left; empty: unlimited)").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-credits]")).to_have_text("unlimited")
    assert server.verify(secret)["code"] == "IP_DENIED"
    # Unlimited: nothing to add to, so no such choice, and a forged one is a clear refusal.
    assert page.get_by_label("Credits:").locator("option[value=add]").count() == 0
    forged = page.request.post(
        page.url + "/credits", form={"csrf": csrf_of(page), "how": "add", "amount": "5"}
    )
    assert forged.status == 409 and "set them first" in forged.text()
    page.get_by_role("link", name="Edit or rename").click()
    page.get_by_label("IP allowlist").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".fields")).to_contain_text("any address")
    assert server.verify(secret)["code"] == "VALID"


def make_tenant(server: Server, name: str) -> None:
    with server.api() as http:
        created = http.post("/v1/tenants", json={"name": name}, headers=ROOT)
        assert created.status_code in (200, 201), created.text


def test_an_admin_sets_the_tenant_policy_and_the_api_is_held_to_it(
    page: Page, server: Server
) -> None:
    make_tenant(server, "policed")
    admin = server.issue("policed", name="policy admin", role="admin", audience=["tokenward"])
    sign_in(page, admin["secret"])
    page.get_by_role("link", name="Policy").click()
    expect(page.get_by_role("heading", name="Policy of tenant policed")).to_be_visible()
    page.get_by_label("Allowed scopes (one a line; empty: any)").fill("read")
    page.get_by_label("When a secret is reported leaked").select_option("notify")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_label("Allowed scopes (one a line; empty: any)")).to_have_value("read")
    expect(page.get_by_label("When a secret is reported leaked")).to_have_value("notify")
    with server.api() as http:
        refused = http.post(
            "/v1/tenants/policed/tokens", json={"name": "w", "scopes": ["write"]}, headers=ROOT
        )
    assert refused.status_code == 422 and "POLICY_VIOLATION" in refused.text, refused.text

    # A bad number is a message on the form, never an error page.
    page.get_by_label("Maximum lifetime of a token (seconds)").fill("-5")
    page.evaluate("document.querySelector('#max_lifetime_seconds').removeAttribute('min')")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("alert")).to_contain_text("max_lifetime_seconds")


def test_an_editor_sees_no_policy_or_webhooks_and_a_forged_post_is_refused(
    page: Page, server: Server
) -> None:
    editor = server.issue(name="console editor", role="editor", audience=["tokenward"])
    sign_in(page, editor["secret"])
    assert page.get_by_role("link", name="Policy").count() == 0
    assert page.get_by_role("link", name="Webhooks").count() == 0
    csrf = csrf_of(page)
    for path, form in (
        ("/console/t/default/policy", {"csrf": csrf, "require_expiry": "on"}),
        ("/console/t/default/webhooks", {"csrf": csrf, "url": "https://example.com/h"}),
    ):
        response = page.request.post(path, form=form)
        assert response.status == 403, path
    response = page.request.post(
        "/console/t/default/policy", form={"require_expiry": "on"}, headers={"origin": server.url}
    )
    assert response.status == 403  # no CSRF token
    with server.api() as http:
        policy = http.get("/v1/tenants/default/policy", headers=ROOT).json()
    assert policy["require_expiry"] is False


def test_webhooks_created_with_a_secret_shown_once_edited_retried_and_deleted(
    page: Page, server: Server
) -> None:
    make_tenant(server, "hooked")
    sign_in(page, ADMIN)
    page.goto("/console/t/hooked/webhooks")
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()
    page.get_by_label("URL (http or https)").fill("http://127.0.0.1:9/<hook>")
    page.get_by_label("Description").fill("<b>not bold</b>")
    page.get_by_label("token.created").check()
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.get_by_role("heading", name=re.compile("Webhook added"))).to_be_visible()
    secret = page.get_by_label("Secret", exact=True).input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("link", name="Go to the webhook").click()
    assert secret not in page.content()
    expect(page.get_by_label("token.created")).to_be_checked()
    expect(page.get_by_label("Description")).to_have_value("<b>not bold</b>")

    # An event: the dispatcher refuses a loopback receiver, and the attempt shows.
    server.issue("hooked", name="announced")
    delivery = page.locator("tr[data-delivery]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.reload()
        if delivery.count() and "no answer" in (delivery.first.text_content() or ""):
            break
        time.sleep(0.5)
    expect(delivery.first).to_contain_text("token.created")
    expect(delivery.first.locator(".attempts li")).to_have_count(1)
    delivery.first.get_by_role("button", name=re.compile("Retry delivery")).click()
    expect(page.get_by_role("heading", name=re.compile("^Webhook"))).to_be_visible()
    with server.api() as http:
        trail = http.get("/v1/audit", params={"action": "webhook.retry"}, headers=ROOT).json()
    assert any(item["tenant"] == "hooked" for item in trail["items"])

    page.get_by_label("token.disabled").check()
    page.get_by_label("Enabled (enabling clears a failure streak)").uncheck()
    page.get_by_role("button", name="Save the webhook").click()
    expect(page.locator("[data-webhook-state]")).to_have_text("disabled")
    expect(page.get_by_label("token.disabled")).to_be_checked()
    with server.api() as http:
        updates = http.get(
            "/v1/audit", params={"action": "webhook.update", "tenant": "hooked"}, headers=ROOT
        ).json()
    assert [item["detail"]["fields"] for item in updates["items"]] == [["active", "events"]]

    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete the webhook").click()
    expect(page.get_by_text("No webhooks yet.")).to_be_visible()


def test_deliveries_come_in_pages_walked_by_links(page: Page, server: Server) -> None:
    make_tenant(server, "busy")
    with server.api() as http:
        hook = http.post(
            "/v1/tenants/busy/webhooks",
            json={"url": "http://127.0.0.1:9/busy", "events": ["token.created"]},
            headers=ROOT,
        ).json()
    for n in range(DELIVERY_PAGE_SIZE + 1):
        server.issue("busy", name=f"busy {n}")
    deliveries = f"/v1/tenants/busy/webhooks/{hook['id']}/deliveries"
    deadline = time.monotonic() + 30
    with server.api() as http:
        while http.get(deliveries, headers=ROOT).json()["total"] <= DELIVERY_PAGE_SIZE:
            assert time.monotonic() < deadline, "the dispatcher did not fan the events out"
            time.sleep(0.2)
        oldest = http.get(deliveries, params={"limit": 1, "page": DELIVERY_PAGE_SIZE}, headers=ROOT)
    [oldest_delivery] = oldest.json()["items"]

    sign_in(page, ADMIN)
    page.goto(f"/console/t/busy/webhooks/{hook['id']}")
    rows = page.locator("tr[data-delivery]")
    expect(rows).to_have_count(DELIVERY_PAGE_SIZE)
    pages = page.get_by_role("navigation", name="Pages of deliveries")
    expect(pages).to_contain_text("Page 1 of 2")
    expect(pages.get_by_role("link", name="Newer deliveries")).to_have_count(0)
    assert serious_violations(page) == []
    first_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.delivery)"))

    pages.get_by_role("link", name="Older deliveries").click()
    expect(pages).to_contain_text("Page 2 of 2")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-delivery", str(oldest_delivery["id"]))
    assert str(oldest_delivery["id"]) not in first_page
    expect(pages.get_by_role("link", name="Older deliveries")).to_have_count(0)

    pages.get_by_role("link", name="Newer deliveries").click()
    expect(rows).to_have_count(DELIVERY_PAGE_SIZE)
    expect(pages).to_contain_text("Page 1 of 2")


def in_days(days: float) -> str:
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


def test_the_token_list_filters_sorts_and_pages_with_its_total(page: Page, server: Server) -> None:
    make_tenant(server, "listed")
    for n in range(26):
        server.issue("listed", name=f"e {n:02}", role="editor")
    for n in range(3):
        server.issue("listed", name=f"a {n}", role="admin")
    server.issue("listed", name="carol's", type="user", principal="carol", expires_at=in_days(2))
    sign_in(page, ADMIN)
    page.goto("/console/t/listed/tokens")
    expect(page.locator("#total")).to_have_text("30")

    page.get_by_label("Role").select_option("editor")
    page.get_by_label("Sort by").select_option("name")
    page.get_by_label("Order").select_option("asc")
    page.get_by_label("Per page").select_option("25")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#total")).to_have_text("26")
    pages = page.get_by_role("navigation", name="Pages", exact=True)
    expect(pages).to_contain_text("Page 1 of 2")
    names = page.locator("#results tbody tr td:nth-child(2)")
    expect(names).to_have_count(25)
    expect(names.first).to_have_text("e 00")

    pages.get_by_role("link", name="Next page").click()
    expect(pages).to_contain_text("Page 2 of 2")
    expect(names).to_have_count(1)
    expect(names.first).to_have_text("e 25")
    pages.get_by_role("link", name="Previous page").click()
    expect(names.first).to_have_text("e 00")

    page.get_by_label("Order").select_option("desc")
    page.get_by_role("button", name="Apply").click()
    expect(names.first).to_have_text("e 25")

    # The API's other filters: a principal, and a range of expiry.
    for label, value in (
        ("Principal", "carol"),
        ("Expires before (UTC)", in_days(5)[:16]),
    ):
        page.goto("/console/t/listed/tokens")
        page.get_by_label(label).fill(value)
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#total")).to_have_text("1")
        expect(names).to_have_text(["carol's"])


def test_the_overview_counts_by_state_and_the_tokens_expiring_soon(
    page: Page, server: Server
) -> None:
    make_tenant(server, "counted")
    server.issue("counted", name="forever")
    server.issue("counted", name="this week", expires_at=in_days(3))
    server.issue("counted", name="this month", expires_at=in_days(20))
    off = server.issue("counted", name="switched off")
    with server.api() as http:
        disabled = http.post(f"/v1/tenants/counted/tokens/{off['id']}/disable", headers=ROOT)
        assert disabled.status_code == 200
    sign_in(page, ADMIN)
    page.goto("/console/t/counted/")
    figures = page.locator("dl.figures")
    for state, count in (("Active", "3"), ("Disabled", "1"), ("Expired", "0"), ("All", "4")):
        expect(figures.locator("div", has=page.get_by_text(state, exact=True))).to_contain_text(
            count
        )
    week = page.get_by_role("region", name=re.compile("Expiring in the next 7 days"))
    month = page.get_by_role("region", name=re.compile("Expiring in the next 30 days"))
    expect(week).to_contain_text("Expiring in the next 7 days: 1")
    expect(week.get_by_role("link")).to_have_text(["this week"])
    expect(month).to_contain_text("Expiring in the next 30 days: 2")
    expect(month.get_by_role("link")).to_have_text(["this week", "this month"])


def test_the_token_page_shows_its_last_use_and_audit_trail_and_the_log_filters(
    page: Page, server: Server
) -> None:
    used = server.issue(name="used once")
    assert server.verify(used["secret"])["valid"] is True
    sign_in(page, ADMIN)
    last_used = page.locator("dt:text-is('Last used') + dd")
    deadline = time.monotonic() + 30
    page.goto(f"/console/t/default/tokens/{used['id']}")
    while last_used.text_content() == "never" and time.monotonic() < deadline:
        time.sleep(0.5)  # last-use times reach the store every second
        page.reload()
    expect(last_used).not_to_have_text("never")
    trail = page.get_by_role("region", name="Audit trail")
    expect(trail).to_contain_text("token.issue")

    page.goto("/console/audit")
    page.get_by_label("Action").fill("token.issue")
    page.get_by_label("Token id").fill(str(used["id"]))
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("token.issue")


def test_expiry_given_as_a_date_is_the_token_expires_at(page: Page, server: Server) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/t/default/tokens/new")
    page.get_by_label("Name", exact=True).fill("dated")
    page.get_by_label("On a date").check()
    page.get_by_label("Expires at (UTC)").fill("2031-05-17T08:30")
    page.get_by_role("button", name="Create the token").click()
    secret = page.get_by_label("Secret", exact=True).input_value()
    with server.api() as http:
        body = http.get(f"/v1/tenants/default/tokens/{token_id_of(page)}", headers=ROOT).json()
    assert body["expires_at"] == "2031-05-17T08:30:00Z"
    assert server.verify(secret)["token"]["expires_at"] == "2031-05-17T08:30:00Z"
