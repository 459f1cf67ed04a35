//! `GET /api/openapi.json` against the server itself: every documented operation is
//! routed (never the API's "no such route" answer), a documented path answers 405 to the
//! methods the document does not list, and real replies of (nearly) every operation, the
//! errors included, match their documented schemas strictly: a property the document does
//! not name, a missing required one or a wrong type fails the test.

use crate::helpers::{Backend, PASSWORD, TestApp, json, signed_in_admin};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Checks `value` against `schema` (JSON Schema 2020-12 as the document writes it),
/// objects closed: properties the schema does not name are drift.
struct Validator<'a> {
    schemas: &'a Map<String, Value>,
}

impl Validator<'_> {
    fn check(&self, value: &Value, schema: &Value, at: &str) -> Result<(), String> {
        let Some(schema) = schema.as_object() else {
            // `true`: anything.
            return Ok(());
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .ok_or_else(|| format!("{at}: foreign reference {reference}"))?;
            let target = self
                .schemas
                .get(name)
                .ok_or_else(|| format!("{at}: {reference} does not resolve"))?;
            self.check(value, target, at)?;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(value, s, at)?;
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|s| self.check(value, s, at).is_ok())
        {
            return Err(format!("{at}: {value} matches none of anyOf {any:?}"));
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|s| self.check(value, s, at).is_ok())
                .count();
            if matching != 1 {
                return Err(format!("{at}: {value} matches {matching} of oneOf {one:?}"));
            }
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            return Err(format!("{at}: {value} is not {expected}"));
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {options:?}"));
        }
        if let Some(kind) = schema.get("type") {
            let kinds: Vec<&str> = match kind {
                Value::String(k) => vec![k.as_str()],
                Value::Array(ks) => ks.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let actual = match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            let fits =
                kinds.contains(&actual) || (actual == "integer" && kinds.contains(&"number"));
            if !fits {
                return Err(format!("{at}: {value} is {actual}, not {kinds:?}"));
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check(item, items, &format!("{at}[{i}]"))?;
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !object.contains_key(name) {
                    return Err(format!("{at}: required `{name}` is missing from {value}"));
                }
            }
            for (name, field) in object {
                match properties.and_then(|p| p.get(name)) {
                    Some(s) => self.check(field, s, &format!("{at}.{name}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{at}: `{name}` is not allowed"));
                        }
                        Some(extra @ Value::Object(_)) => {
                            self.check(field, extra, &format!("{at}.{name}"))?;
                        }
                        // Closed unless the schema says otherwise, when it names its
                        // properties (or is a `oneOf` branch's sibling: then that branch
                        // names them).
                        Some(Value::Bool(true)) => {}
                        None if properties.is_some() => {
                            return Err(format!("{at}: `{name}` is not in the document ({value})"));
                        }
                        _ => {}
                    },
                }
            }
        }
        Ok(())
    }
}

struct Api {
    doc: Value,
}

impl Api {
    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        op
    }

    /// Checks a reply of `method path` against the document: a documented status with its
    /// schema, or an error with the error schema.
    async fn reply(&self, method: &str, path: &str, response: reqwest::Response) -> Value {
        let status = response.status().as_u16();
        let op = self.operation(method, path);
        let text = response.text().await.unwrap();
        let schemas = self.doc["components"]["schemas"].as_object().unwrap();
        let validator = Validator { schemas };
        let documented = &op["responses"][status.to_string()];
        let schema = if documented.is_object() {
            &documented["content"]["application/json"]["schema"]
        } else {
            assert!(
                status >= 400,
                "{method} {path} answered {status}, which the document does not list: {text}"
            );
            &op["responses"]["default"]["content"]["application/json"]["schema"]
        };
        if schema.is_null() {
            assert!(
                text.is_empty(),
                "{method} {path} {status}: no body documented: {text}"
            );
            return Value::Null;
        }
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: not JSON ({e}): {text}"));
        if let Err(drift) = validator.check(&value, schema, "body") {
            panic!("{method} {path} {status} drifted from the document: {drift}");
        }
        value
    }
}

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Every operation of the API.
const ROUTES: &[&str] = &[
    "GET /api/openapi.json",
    "POST /api/auth/signup",
    "POST /api/auth/login",
    "POST /api/auth/logout",
    "GET /api/auth/me",
    "POST /api/auth/verify-email",
    "POST /api/auth/verify-email/resend",
    "POST /api/auth/password-reset",
    "POST /api/auth/password-reset/confirm",
    "GET /api/notifications",
    "PUT /api/notifications",
    "GET /api/sessions",
    "DELETE /api/sessions/{handle}",
    "GET /api/dca/config",
    "POST /api/dca/config",
    "GET /api/dca/config/{id}",
    "DELETE /api/dca/config/{id}",
    "POST /api/dca/config/check",
    "GET /api/dca/limits",
    "POST /api/dca/start",
    "POST /api/dca/pause",
    "POST /api/dca/stop",
    "POST /api/dca/run-now",
    "GET /api/dca/history",
    "GET /api/dca/history.csv",
    "GET /api/account",
    "GET /api/performance",
    "GET /api/assets",
    "GET /api/ws",
    "GET /api/broker/connection",
    "POST /api/broker/connection",
    "DELETE /api/broker/connection",
    "GET /api/billing",
    "GET /api/billing/tiers",
    "POST /api/billing/checkout",
    "POST /api/billing/portal",
    "POST /api/billing/webhook",
    "GET /api/release-notes",
    "GET /api/admin/users",
    "GET /api/admin/users/{id}",
    "PATCH /api/admin/users/{id}",
    "GET /api/admin/users/{id}/sessions",
    "DELETE /api/admin/users/{id}/sessions",
    "DELETE /api/admin/sessions/{handle}",
    "GET /api/admin/audit",
    "GET /api/admin/audit.csv",
    "GET /api/admin/health",
    "GET /api/admin/settings",
    "PUT /api/admin/settings",
    "GET /api/admin/release-notes",
    "POST /api/admin/release-notes",
    "PATCH /api/admin/release-notes/{id}",
    "DELETE /api/admin/release-notes/{id}",
];

async fn the_api_keeps_to_its_document(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc = json(response).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let api = Api { doc: doc.clone() };
    let admin = signed_in_admin(&app, "openapi-admin@example.com").await;

    // The routes, pinned: a route added, removed or moved changes the document, and this
    // list with it (on purpose, in review).
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut expected = ROUTES.to_vec();
    expected.sort();
    assert_eq!(documented, expected);

    // Every documented operation is routed; other methods on its path are not.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "00000000-0000-4000-8000-000000000000"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "patch", "delete"] {
            // Signing out would end the admin's session for the rest of the test.
            if (path == "/api/auth/logout") || path == "/api/ws" {
                continue;
            }
            let body = (method != "get").then(|| json!({}));
            let response = send(
                &app,
                &admin,
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &concrete,
                body,
            )
            .await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if item[method].is_object() {
                operations += 1;
                assert!(
                    status != 405 && !text.contains("There is no API at"),
                    "{method} {path} is documented but not routed: {status} {text}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is routed but not documented: {text}"
                );
            }
        }
    }
    // All but the two skipped (sign-out and the websocket).
    assert_eq!(operations, ROUTES.len() - 2, "{operations} operations");
    let missing = send(&app, &admin, Method::GET, "/api/no-such-thing", None).await;
    assert_eq!(missing.status(), 404);
    api.reply("get", "/api/auth/me", missing).await;

    // Real replies, as a new user would see them.
    let user = app.other_client();
    let body = json!({"email": "openapi@example.com", "password": PASSWORD});
    let signed = send(&app, &user, Method::POST, "/api/auth/signup", Some(body)).await;
    assert_eq!(signed.status(), 201);
    api.reply("post", "/api/auth/signup", signed).await;
    for path in [
        "/api/auth/me",
        "/api/dca/config",
        "/api/dca/limits",
        "/api/account",
        "/api/performance",
        "/api/notifications",
        "/api/sessions",
        "/api/broker/connection",
        "/api/billing",
        "/api/billing/tiers",
        "/api/release-notes",
        "/api/assets?q=SP",
        "/api/dca/history",
    ] {
        let response = send(&app, &user, Method::GET, path, None).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        api.reply("get", path.split('?').next().unwrap(), response)
            .await;
    }
    let plan = json!({"name": "Doc plan", "legs": [{"symbol": "SPY", "amount": "25.50"}],
                      "schedule": {"frequency": "monthly", "interval": 1, "day_of_month": "last",
                                   "time": "10:00", "timezone": "America/New_York"}});
    let checked = send(
        &app,
        &user,
        Method::POST,
        "/api/dca/config/check",
        Some(plan.clone()),
    )
    .await;
    api.reply("post", "/api/dca/config/check", checked).await;
    let created = send(&app, &user, Method::POST, "/api/dca/config", Some(plan)).await;
    assert_eq!(created.status(), 201);
    let created = api.reply("post", "/api/dca/config", created).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let one = send(
        &app,
        &user,
        Method::GET,
        &format!("/api/dca/config/{id}"),
        None,
    )
    .await;
    api.reply("get", "/api/dca/config/{id}", one).await;
    let bad = json!({"name": "", "legs": [{"symbol": "SPY", "amount": "0"}],
                     "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                                  "time": "10:00", "timezone": "America/New_York"}});
    let refused = send(&app, &user, Method::POST, "/api/dca/config", Some(bad)).await;
    assert_eq!(refused.status(), 422);
    let refused = api.reply("post", "/api/dca/config", refused).await;
    assert!(refused["error"]["fields"].is_object(), "{refused}");
    let run = send(
        &app,
        &user,
        Method::POST,
        "/api/dca/run-now",
        Some(json!({"plan_id": id})),
    )
    .await;
    assert_eq!(run.status(), 202);
    api.reply("post", "/api/dca/run-now", run).await;
    let worker = app.worker(|_| {});
    while worker.tick().await.unwrap() {}
    let history = send(&app, &user, Method::GET, "/api/dca/history", None).await;
    let history = api.reply("get", "/api/dca/history", history).await;
    assert_eq!(
        history["purchases"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    for path in ["/api/account", "/api/performance"] {
        let response = send(&app, &user, Method::GET, path, None).await;
        api.reply("get", path, response).await;
    }
    let paused = send(
        &app,
        &user,
        Method::POST,
        "/api/dca/pause",
        Some(json!({"plan_id": id})),
    )
    .await;
    api.reply("post", "/api/dca/pause", paused).await;
    let prefs = send(&app, &user, Method::GET, "/api/notifications", None).await;
    let prefs = api.reply("get", "/api/notifications", prefs).await;
    let saved = send(&app, &user, Method::PUT, "/api/notifications", Some(prefs)).await;
    api.reply("put", "/api/notifications", saved).await;
    let reset = send(
        &app,
        &app.other_client(),
        Method::POST,
        "/api/auth/password-reset",
        Some(json!({"email": "openapi@example.com"})),
    )
    .await;
    api.reply("post", "/api/auth/password-reset", reset).await;
    let forbidden = send(&app, &user, Method::GET, "/api/admin/users", None).await;
    assert_eq!(forbidden.status(), 403);
    api.reply("get", "/api/admin/users", forbidden).await;

    // The admin's side.
    let note = json!({"title": "Doc note", "body": "Hello **world**", "published": true});
    let created = send(
        &app,
        &admin,
        Method::POST,
        "/api/admin/release-notes",
        Some(note),
    )
    .await;
    assert_eq!(created.status(), 201);
    api.reply("post", "/api/admin/release-notes", created).await;
    let users = send(&app, &admin, Method::GET, "/api/admin/users", None).await;
    let users = api.reply("get", "/api/admin/users", users).await;
    let someone = users["users"][0]["id"].as_str().unwrap().to_owned();
    for (path, documented) in [
        (
            format!("/api/admin/users/{someone}"),
            "/api/admin/users/{id}",
        ),
        (
            format!("/api/admin/users/{someone}/sessions"),
            "/api/admin/users/{id}/sessions",
        ),
        ("/api/admin/audit".to_owned(), "/api/admin/audit"),
        ("/api/admin/health".to_owned(), "/api/admin/health"),
        ("/api/admin/settings".to_owned(), "/api/admin/settings"),
        (
            "/api/admin/release-notes".to_owned(),
            "/api/admin/release-notes",
        ),
        ("/api/release-notes".to_owned(), "/api/release-notes"),
    ] {
        let response = send(&app, &admin, Method::GET, &path, None).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        api.reply("get", documented, response).await;
    }
    let settings = send(&app, &admin, Method::GET, "/api/admin/settings", None).await;
    let settings = json(settings).await;
    let saved = send(
        &app,
        &admin,
        Method::PUT,
        "/api/admin/settings",
        Some(settings),
    )
    .await;
    api.reply("put", "/api/admin/settings", saved).await;
    app.cleanup().await;
}

on_both_backends!(backend: the_api_keeps_to_its_document);
