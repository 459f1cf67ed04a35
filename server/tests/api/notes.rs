//! Release notes (#15): admins write Markdown notes (drafts, publish days); users read the
//! published ones as sanitised HTML (a `<script>` in the body arrives as inert text, links
//! get `rel="noopener noreferrer"`); a published note lights the user's "What's new" badge
//! until they open the notes; every change is audited; subscribers cannot write.

use crate::helpers::{TestApp, json, signed_in_admin, signed_up};
use serde_json::{Value, json};

async fn unread(app: &TestApp, client: &reqwest::Client) -> bool {
    let me = json(client.get(app.url("/api/auth/me")).send().await.unwrap()).await;
    me["user"]["unread_notes"].as_bool().unwrap()
}

/// The notes as the page reads them (which marks them seen).
async fn open_notes(client: &reqwest::Client, app: &TestApp) -> Value {
    let response = client
        .post(app.url("/api/fn/load_release_notes"))
        .form(&[("", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    json(response).await
}

async fn notes_are_written_published_read_and_sanitised(app: &TestApp) {
    let admin = signed_in_admin(app, "notes-admin@example.com").await;
    let (reader, _) = signed_up(app, "reader@example.com").await;
    assert!(!unread(app, &reader).await);

    // Wrong drafts are refused field by field; nothing is saved.
    let refused = admin
        .post(app.url("/api/admin/release-notes"))
        .json(&json!({"title": " ", "body": "", "publish_at": "someday"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let fields = &json(refused).await["error"]["fields"];
    for field in ["title", "body", "publish_at"] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }

    // A draft is the admin's only.
    let draft = admin
        .post(app.url("/api/admin/release-notes"))
        .json(&json!({"title": "Coming soon", "body": "Not yet.", "published": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let draft = json(draft).await;
    assert_eq!(draft["published"], false);
    assert!(!unread(app, &reader).await, "a draft lights nothing");
    let listed = json(
        reader
            .get(app.url("/api/release-notes"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["notes"], json!([]));

    // Published with a hostile body: stored rendered and inert. (A minute on: the reader
    // signed up at the test clock's instant, and had read everything published before.)
    app.clock.advance_minutes(1);
    let body = "## Smart DCA\n\nBuy the dip <script>alert('x')</script> [docs](https://example.com/docs) \
                [bad](javascript:alert(1)) <img src=x onerror=alert(2)>";
    let note = admin
        .post(app.url("/api/admin/release-notes"))
        .json(&json!({"title": "Smart DCA is here", "body": body, "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), 201);
    let note = json(note).await;
    let html = note["html"].as_str().unwrap();
    assert!(html.contains("<h2>Smart DCA</h2>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(
        html.contains("<a href=\"https://example.com/docs\" rel=\"noopener noreferrer\">docs</a>"),
        "{html}"
    );
    assert!(!html.contains("javascript:"), "{html}");
    assert_eq!(note["body"], body, "the Markdown is kept as written");

    assert!(unread(app, &reader).await, "the badge is lit");
    let listed = json(
        reader
            .get(app.url("/api/release-notes"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["notes"].as_array().unwrap().len(), 1);
    assert_eq!(listed["notes"][0]["title"], "Smart DCA is here");
    assert!(
        listed["notes"][0].get("body").is_none(),
        "users get the HTML only"
    );
    assert!(
        unread(app, &reader).await,
        "the REST list does not mark them read"
    );
    let opened = open_notes(&reader, app).await;
    assert_eq!(opened.as_array().unwrap().len(), 1);
    assert!(
        !unread(app, &reader).await,
        "opening the notes puts the badge out"
    );

    // Someone who signs up after a note was published has nothing new to read.
    let (newcomer, _) = signed_up(app, "newcomer@example.com").await;
    assert!(
        !unread(app, &newcomer).await,
        "past notes are not new to a new user"
    );

    // A typo fixed in a note already read, its day sent back as the editor shows it,
    // keeps its exact time and lights nothing.
    app.clock.advance_minutes(1);
    let published_id = note["id"].as_str().unwrap();
    let fixed = admin
        .patch(app.url(&format!("/api/admin/release-notes/{published_id}")))
        .json(&json!({"title": "Smart DCA is here!", "body": body, "publish_at": "2026-11-28", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 200);
    let fixed = json(fixed).await;
    assert_eq!(
        fixed["publish_at"], note["publish_at"],
        "the same day keeps its time"
    );
    assert!(
        !unread(app, &reader).await,
        "an edit does not light the badge again"
    );

    // Publishing the draft later, backdated, lights the badge again.
    app.clock.advance_minutes(5);
    let id = draft["id"].as_str().unwrap();
    let changed = admin
        .patch(app.url(&format!("/api/admin/release-notes/{id}")))
        .json(&json!({"title": "Here now", "body": "Done.", "publish_at": "2026-11-01", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert!(unread(app, &reader).await);
    let opened = open_notes(&reader, app).await;
    assert_eq!(
        opened[0]["title"], "Smart DCA is here!",
        "newest publish day first"
    );
    assert_eq!(opened[1]["title"], "Here now");

    // A note for a later day is not shown before it.
    let later = admin
        .post(app.url("/api/admin/release-notes"))
        .json(&json!({"title": "Next year", "body": "Soon.", "publish_at": "2027-06-01", "published": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status(), 201);
    assert!(!unread(app, &reader).await);
    assert_eq!(open_notes(&reader, app).await.as_array().unwrap().len(), 2);
    let all = json(
        admin
            .get(app.url("/api/admin/release-notes"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all["notes"].as_array().unwrap().len(), 3);

    // Subscribers cannot write or read the drafts; visitors get nothing.
    for (method, path) in [
        ("GET", "/api/admin/release-notes".to_owned()),
        ("POST", "/api/admin/release-notes".to_owned()),
        ("PATCH", format!("/api/admin/release-notes/{id}")),
        ("DELETE", format!("/api/admin/release-notes/{id}")),
    ] {
        let request = reader
            .request(method.parse().unwrap(), app.url(&path))
            .json(&json!({"title": "x", "body": "y"}));
        assert_eq!(
            request.send().await.unwrap().status(),
            403,
            "{method} {path}"
        );
    }
    assert_eq!(app.get("/api/release-notes").await.status(), 401);

    let deleted = admin
        .delete(app.url(&format!("/api/admin/release-notes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = admin
        .delete(app.url(&format!("/api/admin/release-notes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let actions = app.audit_actions().await;
    for action in ["note_created", "note_changed", "note_deleted"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

on_both_backends!(notes_are_written_published_read_and_sanitised);
