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
    for tier in ["Basic", "$9", "Pro", "$19", "Premium", "$29"] {
        assert!(html.contains(tier), "the pricing shows {tier}");
    }

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

on_both_backends!(health_and_readiness_answer, pages_render_on_the_server);

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
