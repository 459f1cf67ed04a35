//! The REST API as one table: each operation's method, path, handler, who may call it,
//! and the Rust types of its query, body and replies. The `/api` router is built from
//! this table and `GET /api/openapi.json` (OpenAPI 3.1) is generated from it, the
//! schemas from the wire types themselves (schemars: requests as they deserialize,
//! replies as they serialize), so no route exists undocumented and no documented shape
//! is written by hand. `tests/api/openapi.rs` checks real replies against the document.

use super::AppState;
use super::admin::SessionsBody;
use super::auth::UserBody;
use super::billing::{CheckoutBody, Received};
use super::dca::{AssetQuery, AssetsBody, PlanIdBody, PlansBody, StopBody};
use super::mail::{EmailBody, ResetBody, VerifyBody};
use super::{admin, auth, billing, dca, live, mail};
use app::api::error::ErrorBody;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value, json};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A signed-in user (the session cookie), on their own data only.
    User,
    /// A signed-in admin.
    Admin,
    /// Stripe, with its signature header.
    Stripe,
}

/// One reply an operation gives when it succeeds.
enum Reply {
    Json(u16, SchemaFn),
    Empty(u16),
    Csv,
    Upgrade,
}

/// One operation of the API.
pub struct Operation {
    pub method: &'static str,
    /// Below `/api`, in axum's form (`/dca/config/{id}`, which OpenAPI shares).
    pub path: &'static str,
    summary: &'static str,
    pub access: Access,
    query: Option<SchemaFn>,
    body: Option<SchemaFn>,
    replies: Vec<Reply>,
    handler: MethodRouter<AppState>,
}

impl Operation {
    fn new<H, T>(method: &'static str, path: &'static str, summary: &'static str, h: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            "put" => MethodFilter::PUT,
            "patch" => MethodFilter::PATCH,
            "delete" => MethodFilter::DELETE,
            other => panic!("no method {other}"),
        };
        Self {
            method,
            path,
            summary,
            access: Access::User,
            query: None,
            body: None,
            replies: Vec::new(),
            handler: axum::routing::on(filter, h),
        }
    }

    fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema::<T>);
        self
    }

    fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema::<T>);
        self
    }

    fn json<T: JsonSchema>(mut self, status: u16) -> Self {
        self.replies.push(Reply::Json(status, schema::<T>));
        self
    }

    fn empty(mut self, status: u16) -> Self {
        self.replies.push(Reply::Empty(status));
        self
    }

    fn csv(mut self) -> Self {
        self.replies.push(Reply::Csv);
        self
    }

    fn upgrade(mut self) -> Self {
        self.replies.push(Reply::Upgrade);
        self
    }
}

/// `{"notes": [...]}`: the published release notes.
#[derive(Serialize, JsonSchema)]
pub struct ReleaseNotesBody {
    pub notes: Vec<app::api::notes::ReleaseNote>,
}

/// `{"notes": [...]}`: every release note, drafts included.
#[derive(Serialize, JsonSchema)]
pub struct AdminNotesBody {
    pub notes: Vec<app::api::notes::AdminNote>,
}

/// An empty object, `{}`.
#[derive(Serialize, JsonSchema)]
pub struct Empty {}

/// Stripe's event, as Stripe signs and sends it.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Map<String, Value>,
}

/// Every operation of the API, in the order the document lists them.
pub fn operations() -> Vec<Operation> {
    use Access::{Admin, Public, Stripe};
    use Operation as Op;
    use app::api::{admin as a, auth as au, billing as b, dca as d, notes as n};
    vec![
        Op::new(
            "get",
            "/openapi.json",
            "This document (OpenAPI 3.1)",
            openapi_json,
        )
        .access(Public)
        .json::<Map<String, Value>>(200),
        // Accounts and sessions.
        Op::new(
            "post",
            "/auth/signup",
            "Create an account and sign in",
            auth::sign_up,
        )
        .access(Public)
        .body::<au::Credentials>()
        .json::<UserBody>(201),
        Op::new(
            "post",
            "/auth/login",
            "Sign in (sets the session cookie)",
            auth::sign_in,
        )
        .access(Public)
        .body::<au::Credentials>()
        .json::<UserBody>(200),
        Op::new(
            "post",
            "/auth/logout",
            "Sign out this session",
            auth::sign_out,
        )
        .empty(204),
        Op::new("get", "/auth/me", "The signed-in user", auth::me).json::<UserBody>(200),
        Op::new(
            "post",
            "/auth/verify-email",
            "Confirm the e-mail address with the e-mailed token",
            mail::verify_api,
        )
        .access(Public)
        .body::<VerifyBody>()
        .empty(204),
        Op::new(
            "post",
            "/auth/verify-email/resend",
            "E-mail a new confirmation link",
            mail::resend_api,
        )
        .empty(202),
        Op::new(
            "post",
            "/auth/password-reset",
            "E-mail a password reset link (202 whether or not an account has the address)",
            mail::reset_request_api,
        )
        .access(Public)
        .body::<EmailBody>()
        .json::<Empty>(202),
        Op::new(
            "post",
            "/auth/password-reset/confirm",
            "Set a new password with the e-mailed token",
            mail::reset_confirm_api,
        )
        .access(Public)
        .body::<ResetBody>()
        .empty(204),
        Op::new(
            "get",
            "/notifications",
            "Which e-mails come",
            mail::prefs_api,
        )
        .json::<crate::db::mail::NotifyPrefs>(200),
        Op::new(
            "put",
            "/notifications",
            "Choose which e-mails come",
            mail::save_prefs_api,
        )
        .body::<crate::db::mail::NotifyPrefs>()
        .json::<crate::db::mail::NotifyPrefs>(200),
        Op::new(
            "get",
            "/sessions",
            "Your signed-in devices",
            admin::own_sessions,
        )
        .json::<SessionsBody>(200),
        Op::new(
            "delete",
            "/sessions/{handle}",
            "Sign out one of your devices",
            admin::end_own_session,
        )
        .empty(204),
        // Plans.
        Op::new("get", "/dca/config", "Your plans", dca::list).json::<PlansBody>(200),
        Op::new(
            "post",
            "/dca/config",
            "Create a plan (no id: 201) or change one (id and updated_at: 200)",
            dca::save,
        )
        .body::<d::PlanWire>()
        .json::<d::Plan>(201)
        .json::<d::Plan>(200),
        Op::new("get", "/dca/config/{id}", "One of your plans", dca::get_one).json::<d::Plan>(200),
        Op::new(
            "delete",
            "/dca/config/{id}",
            "Delete a plan",
            dca::delete_one,
        )
        .empty(204),
        Op::new(
            "post",
            "/dca/config/check",
            "What saving the plan would say, without saving it",
            dca::check,
        )
        .body::<d::PlanWire>()
        .json::<d::Plan>(200),
        Op::new(
            "get",
            "/dca/limits",
            "The limits your plans must keep",
            dca::limits,
        )
        .json::<d::PlanLimits>(200),
        Op::new("post", "/dca/start", "Start a plan", dca::start)
            .body::<PlanIdBody>()
            .json::<d::Plan>(200),
        Op::new("post", "/dca/pause", "Pause a plan", dca::pause)
            .body::<PlanIdBody>()
            .json::<d::Plan>(200),
        Op::new(
            "post",
            "/dca/stop",
            "Stop a plan; a signal bot with \"sell\": true sells what it holds",
            dca::stop,
        )
        .body::<StopBody>()
        .json::<d::Plan>(200),
        Op::new(
            "post",
            "/dca/run-now",
            "Buy now (an Idempotency-Key header makes a retry safe)",
            dca::run_now,
        )
        .body::<PlanIdBody>()
        .json::<d::Plan>(202),
        Op::new(
            "get",
            "/dca/history",
            "Purchases and sales, newest first",
            dca::history,
        )
        .query::<d::HistoryFilter>()
        .json::<d::HistoryPage>(200),
        Op::new(
            "get",
            "/dca/history.csv",
            "The history as CSV",
            dca::history_csv,
        )
        .query::<d::HistoryFilter>()
        .csv(),
        Op::new("get", "/account", "Balances and positions", dca::account)
            .json::<d::AccountSummary>(200),
        Op::new(
            "get",
            "/performance",
            "Invested, value, gain, XIRR and TWR, with the daily series",
            dca::performance,
        )
        .json::<app::api::performance::PerformanceView>(200),
        Op::new(
            "get",
            "/assets",
            "Search the broker's tradable assets",
            dca::assets,
        )
        .query::<AssetQuery>()
        .json::<AssetsBody>(200),
        Op::new(
            "get",
            "/ws",
            "Live events over a websocket (purchases, plans, runs, balances)",
            live::socket,
        )
        .upgrade(),
        Op::new(
            "get",
            "/broker/connection",
            "Your broker connection",
            dca::connection,
        )
        .json::<app::api::broker::ConnectionView>(200),
        Op::new(
            "post",
            "/broker/connection",
            "Connect Alpaca keys",
            dca::connect,
        )
        .body::<app::api::broker::ConnectRequest>()
        .json::<app::api::broker::ConnectionView>(200),
        Op::new(
            "delete",
            "/broker/connection",
            "Forget the keys (back to the simulated account)",
            dca::disconnect,
        )
        .json::<app::api::broker::ConnectionView>(200),
        // Billing.
        Op::new(
            "get",
            "/billing",
            "Your subscription and usage",
            billing::view,
        )
        .json::<b::BillingView>(200),
        Op::new("get", "/billing/tiers", "The tier table", billing::tiers)
            .access(Public)
            .json::<b::TierTable>(200),
        Op::new(
            "post",
            "/billing/checkout",
            "Start a checkout",
            billing::checkout,
        )
        .body::<CheckoutBody>()
        .json::<b::Redirect>(200),
        Op::new(
            "post",
            "/billing/portal",
            "Open the billing portal",
            billing::portal,
        )
        .json::<b::Redirect>(200),
        Op::new(
            "post",
            "/billing/webhook",
            "Stripe's events",
            billing::webhook,
        )
        .access(Stripe)
        .body::<StripeEvent>()
        .json::<Received>(200),
        // Release notes.
        Op::new(
            "get",
            "/release-notes",
            "Published release notes",
            admin::release_notes,
        )
        .json::<ReleaseNotesBody>(200),
        // Administration.
        Op::new("get", "/admin/users", "Users, searched", admin::users)
            .access(Admin)
            .query::<a::UserQuery>()
            .json::<a::AdminUserPage>(200),
        Op::new("get", "/admin/users/{id}", "One user", admin::user)
            .access(Admin)
            .json::<a::AdminUserDetail>(200),
        Op::new(
            "patch",
            "/admin/users/{id}",
            "Change a user's role or disable them",
            admin::change_user,
        )
        .access(Admin)
        .body::<a::UserChange>()
        .json::<a::AdminUserDetail>(200),
        Op::new(
            "get",
            "/admin/users/{id}/sessions",
            "A user's sessions",
            admin::user_sessions,
        )
        .access(Admin)
        .json::<SessionsBody>(200),
        Op::new(
            "delete",
            "/admin/users/{id}/sessions",
            "Sign a user out everywhere",
            admin::end_sessions,
        )
        .access(Admin)
        .json::<a::AdminUserDetail>(200),
        Op::new(
            "delete",
            "/admin/sessions/{handle}",
            "End one session",
            admin::end_session,
        )
        .access(Admin)
        .empty(204),
        Op::new("get", "/admin/audit", "The audit log", admin::audit)
            .access(Admin)
            .query::<a::AuditQuery>()
            .json::<a::AuditPage>(200),
        Op::new(
            "get",
            "/admin/audit.csv",
            "The audit log as CSV",
            admin::audit_csv,
        )
        .access(Admin)
        .query::<a::AuditQuery>()
        .csv(),
        Op::new(
            "get",
            "/admin/health",
            "The platform's health",
            admin::health,
        )
        .access(Admin)
        .json::<a::HealthReport>(200),
        Op::new(
            "get",
            "/admin/settings",
            "The platform settings",
            admin::settings,
        )
        .access(Admin)
        .json::<app::api::settings::PlatformSettingsView>(200),
        Op::new(
            "put",
            "/admin/settings",
            "Change the platform settings",
            admin::save_settings,
        )
        .access(Admin)
        .body::<app::api::settings::PlatformSettingsView>()
        .json::<app::api::settings::PlatformSettingsView>(200),
        Op::new(
            "get",
            "/admin/release-notes",
            "Every release note, drafts included",
            admin::all_notes,
        )
        .access(Admin)
        .json::<AdminNotesBody>(200),
        Op::new(
            "post",
            "/admin/release-notes",
            "Write a release note",
            admin::create_note,
        )
        .access(Admin)
        .body::<n::NoteDraft>()
        .json::<n::AdminNote>(201),
        Op::new(
            "patch",
            "/admin/release-notes/{id}",
            "Change a release note",
            admin::change_note,
        )
        .access(Admin)
        .body::<n::NoteDraft>()
        .json::<n::AdminNote>(200),
        Op::new(
            "delete",
            "/admin/release-notes/{id}",
            "Delete a release note",
            admin::delete_note,
        )
        .access(Admin)
        .empty(204),
    ]
}

/// The `/api` router: every operation of the table.
pub fn router(operations: Vec<Operation>) -> Router<AppState> {
    operations.into_iter().fold(Router::new(), |router, op| {
        router.route(op.path, op.handler)
    })
}

async fn openapi_json() -> axum::response::Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| document(&operations()).to_string());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text.as_str(),
    )
        .into_response()
}

use axum::response::IntoResponse as _;

const SCHEMAS: &str = "#/components/schemas/";

/// All definitions: the replies' (as written), then the requests' (as read). A request
/// schema whose name a reply's schema of another shape took is renamed `{Name}Input` (a
/// `Decimal` is read from a string or a number but always written as a string), and so is
/// one that refers to a renamed schema (its reply twin refers to the written shape).
fn merge_definitions(
    replies: Map<String, Value>,
    requests: Map<String, Value>,
) -> (Map<String, Value>, Vec<(String, String)>) {
    let mut renamed: std::collections::BTreeSet<String> = requests
        .iter()
        .filter(|(name, schema)| replies.get(*name).is_some_and(|s| s != *schema))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let more: Vec<String> = requests
            .iter()
            .filter(|(name, _)| replies.contains_key(*name) && !renamed.contains(*name))
            .filter(|(_, schema)| {
                let text = schema.to_string();
                renamed
                    .iter()
                    .any(|r| text.contains(&format!("\"{SCHEMAS}{r}\"")))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        renamed.extend(more);
    }
    let renamed: Vec<(String, String)> = renamed
        .into_iter()
        .map(|name| (name.clone(), format!("{name}Input")))
        .collect();
    let mut all = replies;
    for (name, schema) in requests {
        let target = renamed
            .iter()
            .find(|(from, _)| *from == name)
            .map_or(name, |(_, to)| to.clone());
        let schema = renamed_refs(schema, &renamed);
        all.entry(target).or_insert(schema);
    }
    (all, renamed)
}

/// `value` with its references to renamed request schemas pointing at the new names.
fn renamed_refs(value: Value, renamed: &[(String, String)]) -> Value {
    if renamed.is_empty() {
        return value;
    }
    let mut text = value.to_string();
    for (from, to) in renamed {
        text = text.replace(
            &format!("\"{SCHEMAS}{from}\""),
            &format!("\"{SCHEMAS}{to}\""),
        );
    }
    serde_json::from_str(&text).unwrap_or(value)
}

/// The OpenAPI 3.1 document of `operations`.
pub fn document(operations: &[Operation]) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let mut reads = settings.clone().for_deserialize().into_generator();
    let mut writes = settings.for_serialize().into_generator();
    let error = writes.subschema_for::<ErrorBody>().to_value();
    // Each operation's schemas, taken before the definitions are merged.
    struct Drafted {
        query: Option<Value>,
        body: Option<Value>,
        replies: Vec<(u16, &'static str, Option<Value>)>,
    }
    let drafted: Vec<Drafted> = operations
        .iter()
        .map(|op| Drafted {
            query: op.query.map(|f| f(&mut reads).to_value()),
            body: op.body.map(|f| f(&mut reads).to_value()),
            replies: op
                .replies
                .iter()
                .map(|reply| match reply {
                    Reply::Json(status, f) => {
                        (*status, "application/json", Some(f(&mut writes).to_value()))
                    }
                    Reply::Empty(status) => (*status, "", None),
                    Reply::Csv => (200, "text/csv", None),
                    Reply::Upgrade => (101, "", None),
                })
                .collect(),
        })
        .collect();
    let query_definitions = reads.definitions().clone();
    let (schemas, renamed) =
        merge_definitions(writes.take_definitions(true), reads.take_definitions(true));
    let mut paths = Map::new();
    for (op, drafted) in operations.iter().zip(drafted) {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
            })
            .collect();
        if let Some(query) = &drafted.query {
            parameters.extend(
                query_parameters(query, &query_definitions)
                    .into_iter()
                    .map(|p| renamed_refs(p, &renamed)),
            );
        }
        let mut responses = Map::new();
        for (status, media, schema) in drafted.replies {
            let description = match status {
                101 => "Switching to the websocket",
                201 => "Created",
                202 => "Accepted",
                204 => "Done, nothing to return",
                _ => "OK",
            };
            let mut response = json!({"description": description});
            if !media.is_empty() {
                response["content"] =
                    json!({media: {"schema": schema.unwrap_or_else(|| json!({"type": "string"}))}});
            }
            responses.insert(status.to_string(), response);
        }
        responses.insert(
            "default".into(),
            json!({"description": "An error: its code, a message and, for invalid input, each field's problem",
                   "content": {"application/json": {"schema": error}}}),
        );
        let mut operation = json!({
            "operationId": operation_id(op),
            "summary": op.summary,
            "tags": [tag(op.path)],
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = drafted.body {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": renamed_refs(body, &renamed)}}});
        }
        operation["security"] = match op.access {
            Access::Public => json!([]),
            Access::User | Access::Admin => json!([{"session": []}]),
            Access::Stripe => json!([{"stripeSignature": []}]),
        };
        if op.access == Access::Admin {
            operation["description"] = json!("Admins only (403 for anyone else).");
        }
        let item = paths
            .entry(format!("/api{}", op.path))
            .or_insert_with(|| json!({}));
        item[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "QuantShift API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Automated dollar-cost averaging and signal bots on Alpaca. Sign in with `POST /api/auth/login`; the session cookie authenticates every other call. Bodies are JSON (`Content-Type: application/json`); amounts are decimal strings. Every error is `{\"error\": {\"code\", \"message\", \"fields\"}}` with a stable code.",
            "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "qs_session"},
                "stripeSignature": {"type": "apiKey", "in": "header", "name": "Stripe-Signature"},
            },
        },
    })
}

/// A query type's fields as OpenAPI parameters.
fn query_parameters(schema: &Value, definitions: &Map<String, Value>) -> Vec<Value> {
    let resolved = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(SCHEMAS))
        .and_then(|name| definitions.get(name))
        .unwrap_or(schema);
    let required: Vec<&str> = resolved
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    resolved
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, schema)| {
                    let mut parameter = json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": schema,
                    });
                    if let Some(description) = schema.get("description") {
                        parameter["description"] = description.clone();
                    }
                    parameter
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `post /dca/config/{id}` → `post_dca_config_id`.
fn operation_id(op: &Operation) -> String {
    let mut id = op.method.to_owned();
    for part in op.path.split(['/', '-', '.', '{', '}']) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    id
}

fn tag(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or("") {
        "auth" | "notifications" | "sessions" => "accounts",
        "dca" | "account" | "performance" | "assets" | "ws" => "plans",
        "broker" => "broker",
        "billing" => "billing",
        "admin" => "admin",
        "release-notes" => "release notes",
        _ => "meta",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_documented_once_with_its_shapes() {
        let ops = operations();
        let doc = document(&ops);
        assert_eq!(doc["openapi"], "3.1.0");
        let mut seen = std::collections::BTreeSet::new();
        for op in &ops {
            assert!(
                seen.insert((op.method, op.path)),
                "{} {} twice",
                op.method,
                op.path
            );
            let documented = &doc["paths"][format!("/api{}", op.path)][op.method];
            assert!(documented.is_object(), "{} {}", op.method, op.path);
            assert!(documented["responses"]["default"].is_object());
        }
        // Every reference resolves.
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = &reference[..reference.find('"').unwrap()];
            let name = target.strip_prefix(SCHEMAS).expect(target);
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{target} resolves"
            );
        }
        // The plan as written and as read.
        let plan = &doc["paths"]["/api/dca/config"]["post"];
        assert!(
            plan["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .ends_with("PlanWire")
        );
        let history = &doc["paths"]["/api/dca/history"]["get"]["parameters"];
        assert!(
            history
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "plan_id" && p["in"] == "query"),
            "{history}"
        );
        let one = &doc["paths"]["/api/dca/config/{id}"]["get"]["parameters"][0];
        assert_eq!(one["in"], "path");
    }

    #[test]
    fn a_request_shape_of_a_reply_name_is_renamed_with_whatever_refers_to_it() {
        let reference = |name: &str| json!({"$ref": format!("{SCHEMAS}{name}")});
        let replies: Map<String, Value> = [
            ("Money".to_owned(), json!({"type": "string"})),
            (
                "Leg".to_owned(),
                json!({"properties": {"amount": reference("Money")}}),
            ),
            ("Same".to_owned(), json!({"type": "integer"})),
        ]
        .into_iter()
        .collect();
        let requests: Map<String, Value> = [
            ("Money".to_owned(), json!({"type": ["string", "number"]})),
            (
                "Leg".to_owned(),
                json!({"properties": {"amount": reference("Money")}}),
            ),
            ("Same".to_owned(), json!({"type": "integer"})),
        ]
        .into_iter()
        .collect();
        let (all, renamed) = merge_definitions(replies, requests);
        assert_eq!(
            renamed,
            [
                ("Leg".to_owned(), "LegInput".to_owned()),
                ("Money".to_owned(), "MoneyInput".to_owned())
            ]
        );
        assert_eq!(
            all["LegInput"]["properties"]["amount"],
            reference("MoneyInput")
        );
        assert_eq!(all["Leg"]["properties"]["amount"], reference("Money"));
        assert!(!all.contains_key("SameInput"));
    }

    #[test]
    fn operation_ids_read_as_the_route() {
        let op = Operation::new("post", "/dca/run-now", "", || async {});
        assert_eq!(operation_id(&op), "post_dca_run_now");
        let op = Operation::new("get", "/admin/users/{id}/sessions", "", || async {});
        assert_eq!(operation_id(&op), "get_admin_users_id_sessions");
    }
}
