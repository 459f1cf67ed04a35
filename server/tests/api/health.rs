//! Health checks and server-rendered pages.

use crate::helpers::{TestApp, json};

async fn health_and_readiness_answer(app: &TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(json(health).await["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body = json(ready).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["migrations"], "applied");
}

async fn pages_render_on_the_server(app: &TestApp) {
    let landing = app
        .client
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(landing.status(), 200);
    let html = landing.text().await.unwrap();
    assert!(html.contains("Invest on schedule"), "{html}");
    assert!(html.contains("Not investment advice."));
    assert!(
        html.contains(r#"href="/pricing""#),
        "the landing page links the pricing"
    );

    let missing = app
        .client
        .get(app.url("/no/such/page"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));

    // A visitor asking for the dashboard is sent to sign in.
    let dashboard = app
        .client
        .get(app.url("/dashboard"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 302);
    assert_eq!(dashboard.headers()["location"], "/login");
    dashboard.bytes().await.unwrap();
}

/// The help and trust pages: plain HTML for anyone, with this server's own numbers.
async fn help_pages_are_served_to_everyone(app: &TestApp) {
    let page = |path: &'static str| async move {
        let response = app
            .client
            .get(app.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        response.text().await.unwrap()
    };
    for (path, title) in [
        ("/help", "Help"),
        ("/faq", "Frequently asked questions"),
        ("/pricing", "Pricing"),
        ("/terms", "Terms of service"),
        ("/privacy", "Privacy"),
        ("/risk", "Investment risk disclosure"),
    ] {
        let html = page(path).await;
        assert!(
            html.contains(&format!("<h1>{title}</h1>")),
            "{path}: {html}"
        );
        // Every page links every other from its footer, and offers to sign in.
        for other in ["help", "faq", "pricing", "terms", "privacy", "risk"] {
            assert!(
                html.contains(&format!(r#"href="/{other}""#)),
                "{path} links /{other}"
            );
        }
        assert!(html.contains(r#"href="/login""#), "{path}");
        assert!(!html.contains("<script"), "{path} runs no script");
    }
    // The numbers quoted are this server's: the grace window, the live unlock, the states.
    let help = page("/help").await;
    assert!(help.contains("up to 4 hours after its time"), "{help}");
    assert!(help.contains("on paper for 30 days"), "{help}");
    assert!(help.contains("Rejected by the broker"));
    assert!(help.contains("between $1 and $10,000 per slot"), "{help}");
    // Pricing reads the tier table in force.
    let pricing = page("/pricing").await;
    for tier in ["Free", "$0", "Basic", "$9", "Pro", "$19", "Premium", "$29"] {
        assert!(pricing.contains(tier), "the pricing shows {tier}");
    }
    assert!(pricing.contains("Smart DCA"));

    // Signed in, the header offers the dashboard instead.
    app.sign_up("reader@example.com", crate::helpers::PASSWORD)
        .await;
    let help = page("/help").await;
    assert!(help.contains("Go to your dashboard"), "{help}");
    assert!(!help.contains(r#"href="/login""#));
}

on_both_backends!(
    health_and_readiness_answer,
    pages_render_on_the_server,
    help_pages_are_served_to_everyone
);

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    // Forget the migrations behind the running server's back.
    sqlx::query("DROP TABLE _sqlx_migrations")
        .execute(app.db.pool())
        .await
        .unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(json(ready).await["checks"]["migrations"], "pending");
    app.cleanup().await;
}
