//! The help and trust pages: `/help`, `/faq`, `/pricing`, `/terms`, `/privacy` and `/risk`.
//! Server-rendered HTML (minijinja, `server/templates/help`) with no script, so they cost
//! the browser bundle nothing and a browser's find searches them. The numbers they quote
//! (grace window, live unlock, limits, prices) are this server's own.

use super::AppState;
use crate::dca::bot_state::signed;
use crate::mail::templates;
use crate::settings::LiveSettings;
use app::api::ErrorCode;
use app::api::billing::{Pricing, TierTable};
use app::api::ports::Caller;
use app::domain::account::PASSWORD_MIN_CHARS;
use app::domain::lifecycle::PurchaseStatus;
use app::domain::market::round_cents;
use app::domain::schedule::Frequency;
use app::domain::tier::TierRules;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use rust_decimal::Decimal;
use serde::Serialize;

/// What the pages quote from this server's configuration.
pub struct HelpFacts {
    pub missed_grace_minutes: u32,
    pub live_unlock_days: u32,
    pub run_now_per_hour: u32,
    pub session_idle_days: u32,
    pub audit_retention_days: u32,
    pub billing: bool,
    /// The tier table and plan limits in force (admins can change both).
    pub settings: LiveSettings,
}

/// The pages load the stylesheet and nothing else: no script, no form.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone, Copy)]
enum Page {
    Help,
    Faq,
    Pricing,
    Terms,
    Privacy,
    Risk,
}

impl Page {
    const ALL: [Page; 6] = [
        Page::Help,
        Page::Faq,
        Page::Pricing,
        Page::Terms,
        Page::Privacy,
        Page::Risk,
    ];

    fn slug(self) -> &'static str {
        match self {
            Page::Help => "help",
            Page::Faq => "faq",
            Page::Pricing => "pricing",
            Page::Terms => "terms",
            Page::Privacy => "privacy",
            Page::Risk => "risk",
        }
    }

    /// The link's label, and the page's title.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Page::Help => ("Help", "Help"),
            Page::Faq => ("FAQ", "Frequently asked questions"),
            Page::Pricing => ("Pricing", "Pricing"),
            Page::Terms => ("Terms", "Terms of service"),
            Page::Privacy => ("Privacy", "Privacy"),
            Page::Risk => ("Risk disclosure", "Investment risk disclosure"),
        }
    }

    fn description(self) -> &'static str {
        match self {
            Page::Help => {
                "How QuantShift runs dollar-cost averaging plans: getting started, Smart DCA, \
                 schedules and holidays, purchase states, paper and live accounts, fees and keys."
            }
            Page::Faq => "Short answers to common questions about QuantShift.",
            Page::Pricing => "QuantShift's tiers and what each one includes.",
            Page::Terms => "The terms of service of this QuantShift server.",
            Page::Privacy => "What this QuantShift server stores about you, why and for how long.",
            Page::Risk => "The risks of investing with automated plans. Not investment advice.",
        }
    }
}

/// A link to `/<page>` (the slug has no `/`: minijinja would escape it in an attribute).
#[derive(Serialize)]
struct Link {
    label: &'static str,
    page: &'static str,
}

fn links(pages: &[Page]) -> Vec<Link> {
    pages
        .iter()
        .map(|page| Link {
            label: page.names().0,
            page: page.slug(),
        })
        .collect()
}

async fn render(
    state: &AppState,
    caller: &Caller,
    page: Page,
    extra: minijinja::Value,
) -> Response {
    let (_, title) = page.names();
    let content = Content {
        template: page.slug(),
        page: page.slug(),
        title: title.to_owned(),
        description: page.description(),
    };
    render_content(state, caller, content, extra).await
}

/// A page in the layout: `help/<template>.html` titled `title`.
struct Content {
    template: &'static str,
    /// Which navigation link is the current page's.
    page: &'static str,
    title: String,
    description: &'static str,
}

async fn render_content(
    state: &AppState,
    caller: &Caller,
    content: Content,
    extra: minijinja::Value,
) -> Response {
    let facts = &state.help;
    let signed_in = state.accounts.require_user(caller).await.is_ok();
    let host = url::Url::parse(&state.public_origin)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| state.public_origin.to_string());
    let limits = facts.settings.plan_limits();
    let context = minijinja::context! {
        page => content.page,
        title => content.title,
        description => content.description,
        nav => links(&[Page::Help, Page::Faq, Page::Pricing]),
        footer => links(&Page::ALL),
        signed_in,
        host,
        billing => facts.billing,
        grace_hours => duration(facts.missed_grace_minutes),
        live_unlock_days => facts.live_unlock_days,
        run_now_per_hour => facts.run_now_per_hour,
        session_idle_days => facts.session_idle_days,
        audit_retention_days => facts.audit_retention_days,
        password_min => PASSWORD_MIN_CHARS,
        min_xirr_days => app::domain::returns::MIN_XIRR_DAYS,
        limits => minijinja::context! {
            min_per_slot => thousands(&limits.min_per_slot.normalize().to_string()),
            max_per_slot => thousands(&limits.max_per_slot.normalize().to_string()),
        },
        ..extra
    };
    match templates::render(&format!("help/{}.html", content.template), context) {
        Ok(html) => {
            let mut response = (StatusCode::OK, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            );
            // The header differs for a signed-in reader.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            );
            response
        }
        Err(err) => crate::errors::internal(err).into_response(),
    }
}

/// "4 hours", "90 minutes", "1 hour".
fn duration(minutes: u32) -> String {
    let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes >= 60 && minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

/// "10000" → "10,000" (the integer part of a plain decimal).
fn thousands(number: &str) -> String {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[derive(Serialize)]
struct StateRow {
    name: &'static str,
    label: &'static str,
    meaning: &'static str,
}

/// Each purchase state, in the words the history page uses, with what it means for you.
fn purchase_states() -> Vec<StateRow> {
    PurchaseStatus::ALL
        .iter()
        .map(|&status| StateRow {
            name: status.as_str(),
            label: status.words(),
            meaning: match status {
                PurchaseStatus::Pending => {
                    "Written down and about to be sent to the broker. It moves on within seconds."
                }
                PurchaseStatus::Accepted => {
                    "The broker took the order and it has not filled yet, for example because \
                     the market is closed; it fills when trading opens."
                }
                PurchaseStatus::Filled => {
                    "Bought in full; the history shows the shares and the average price."
                }
                PurchaseStatus::PartiallyFilled => {
                    "Part of the order filled and the broker canceled or expired the rest; \
                     the history shows what was bought."
                }
                PurchaseStatus::Rejected => {
                    "The broker refused the order (for example, not enough buying power), or \
                     canceled it with nothing bought. Nothing was spent."
                }
                PurchaseStatus::Failed => {
                    "The order could not be placed: the keys were refused or the broker kept \
                     failing. Nothing was spent; check your broker connection."
                }
                PurchaseStatus::Missed => {
                    "Its time passed while the server was not running, beyond the grace \
                     window. Nothing was bought."
                }
                PurchaseStatus::Skipped => {
                    "Not bought on purpose: a Smart DCA condition did not hold, the plan was \
                     paused, or the broker account could not be reached. The reason is shown. \
                     A bot's sale marked skipped, \"Written off\", sent no order: its books no \
                     longer count shares the account does not hold."
                }
                PurchaseStatus::Unknown => {
                    "The broker never said what became of the order. Check your broker account; \
                     QuantShift does not send it again, so it can never buy twice."
                }
            },
        })
        .collect()
}

#[derive(Serialize)]
struct CompareRow {
    label: &'static str,
    values: Vec<String>,
}

/// The comparison table: one row per rule, one column per tier (cheapest first).
fn comparison(table: &TierTable) -> Vec<CompareRow> {
    let row = |label, value: &dyn Fn(&TierRules) -> String| CompareRow {
        label,
        values: table
            .tiers
            .iter()
            .map(|offer| value(&offer.rules))
            .collect(),
    };
    let yes_no = |yes: bool| if yes { "Yes" } else { "—" }.to_owned();
    vec![
        row("Symbols in your plans", &|r| {
            r.max_symbols
                .map_or_else(|| "Unlimited".to_owned(), |n| n.to_string())
        }),
        row("Every trading day", &|r| {
            yes_no(r.frequencies.contains(&Frequency::Daily))
        }),
        row("Weekly", &|r| {
            yes_no(r.frequencies.contains(&Frequency::Weekly))
        }),
        row("Monthly", &|r| {
            yes_no(r.frequencies.contains(&Frequency::Monthly))
        }),
        row("Every few weeks or months", &|r| yes_no(r.every_n)),
        row("Smart DCA", &|r| yes_no(r.smart_dca)),
        row("Live (real money) Alpaca account", &|r| {
            yes_no(r.live_trading)
        }),
    ]
}

pub async fn help(State(state): State<AppState>, caller: Caller) -> Response {
    let states = purchase_states();
    render(&state, &caller, Page::Help, minijinja::context! { states }).await
}

pub async fn faq(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, Page::Faq, minijinja::context! {}).await
}

pub async fn terms(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, Page::Terms, minijinja::context! {}).await
}

pub async fn privacy(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, Page::Privacy, minijinja::context! {}).await
}

pub async fn risk(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, Page::Risk, minijinja::context! {}).await
}

pub async fn pricing(State(state): State<AppState>, caller: Caller) -> Response {
    let table = TierTable::new(state.help.billing, &state.help.settings.tiers());
    let rows = comparison(&table);
    let pricing = Pricing::from(table);
    render(
        &state,
        &caller,
        Page::Pricing,
        minijinja::context! { cards => pricing.cards, rows },
    )
    .await
}

/// `/bots/{id}`: one of the caller's signal bots: its position, stop and target, realized
/// profit, last signals and next evaluation, with "Stop and sell" and "Stop and keep".
pub async fn bot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let bot = match state.portfolio.bot_state(&caller, &id).await {
        Ok(bot) => bot,
        Err(err) => return error_page(&err, "Signal bot"),
    };
    let ny = app::domain::calendar::new_york();
    let when = |at: jiff::Timestamp| ny.to_datetime(at).strftime("%a %Y-%m-%d %H:%M").to_string();
    let settings = bot.settings_line();
    let leg = bot.plan.legs.first();
    let runs: Vec<minijinja::Value> = bot
        .runs
        .iter()
        .map(|run| {
            minijinja::context! {
                at => when(run.at),
                state => run.state.clone(),
                reason => run.reason.clone().unwrap_or_default(),
            }
        })
        .collect();
    let content = Content {
        template: "bot",
        page: "bot",
        title: bot.plan.name.clone(),
        description: "A signal bot: its position, signals and next evaluation.",
    };
    render_content(
        &state,
        &caller,
        content,
        minijinja::context! {
            plan_id => bot.plan.id.as_ref().map(|id| id.as_str().to_owned()),
            symbol => leg.map(|l| l.symbol.to_string()),
            capital => leg.map(|l| l.amount.to_string()),
            status => bot.plan.status.as_str(),
            can_stop => bot.plan.status != app::api::dca::PlanStatus::Stopped,
            can_sell => !bot.qty.is_zero() && !bot.unresolved,
            unresolved => bot.unresolved,
            qty => bot.qty.normalize().to_string(),
            entry => bot.entry.map(|e| e.to_string()),
            stop => bot.stop.map(|s| s.to_string()),
            target => bot.target.map(|t| t.to_string()),
            value => bot.price.map(|p| round_cents(p * bot.qty).to_string()),
            realized => signed(bot.realized),
            cash => bot.cash.to_string(),
            informed => bot.informed,
            waiting => bot.waiting,
            next_run => bot.plan.next_run_at.map(when),
            settings,
            runs,
        },
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct StopForm {
    sell: String,
}

/// `POST /bots/{id}/stop` (the bot page's forms): "Stop and sell" (`sell=1`) or "Stop and
/// keep", then back to the bot's page.
pub async fn stop_bot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<StopForm>,
) -> Response {
    let stopped = async {
        let plan_id = state.ports.plan_id(&caller, &id).await?;
        if form.sell == "1" {
            state.ports.plans.stop_and_sell(&caller, &plan_id).await
        } else {
            state
                .ports
                .plans
                .set_plan_status(&caller, &plan_id, app::api::dca::PlanStatus::Stopped)
                .await
        }
    };
    match stopped.await {
        Ok(_) => Redirect::to(&format!("/bots/{id}")).into_response(),
        Err(err) => error_page(&err, "Signal bot"),
    }
}

/// An error as a page: the sign-in page for a visitor, else the message.
fn error_page(err: &app::api::AppError, title: &str) -> Response {
    if err.code == ErrorCode::Unauthenticated {
        return Redirect::to("/login").into_response();
    }
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    crate::http::mail::message(
        status,
        title,
        &err.message,
        false,
        ("/dashboard", "Back to the dashboard"),
    )
}

/// `/positions/{symbol}`: the caller's open lots of one symbol (first in, first out), at
/// average cost, valued at the latest price.
pub async fn position(
    State(state): State<AppState>,
    caller: Caller,
    Path(symbol): Path<String>,
) -> Response {
    let symbol = symbol.to_ascii_uppercase();
    let found = match state.portfolio.position_lots(&caller, &symbol).await {
        Ok(found) => found,
        Err(err) if err.code == ErrorCode::Unauthenticated => {
            return Redirect::to("/login").into_response();
        }
        Err(err) => {
            let status = StatusCode::from_u16(err.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return crate::http::mail::message(
                status,
                "Position",
                &err.message,
                false,
                ("/dashboard", "Back to the dashboard"),
            );
        }
    };
    let Some(position) = found else {
        let text = format!("Your plans in this account hold no {symbol}.");
        return crate::http::mail::message(
            StatusCode::NOT_FOUND,
            "Position",
            &text,
            false,
            ("/dashboard", "Back to the dashboard"),
        );
    };
    let qty: Decimal = position.lots.iter().map(|(lot, _)| lot.qty).sum();
    let cost: Decimal = position.lots.iter().map(|(lot, _)| lot.cost()).sum();
    let value = position.price.map(|price| round_cents(qty * price));
    let lots: Vec<minijinja::Value> = position
        .lots
        .iter()
        .map(|(lot, plan)| {
            let value = position.price.map(|price| round_cents(lot.qty * price));
            minijinja::context! {
                on => lot.on.to_string(),
                plan => plan.clone().unwrap_or_else(|| "(deleted plan)".to_owned()),
                qty => lot.qty.normalize().to_string(),
                price => round_cents(lot.price).to_string(),
                cost => lot.cost().to_string(),
                value => value.map(|v| v.to_string()),
                gain => value.map_or_else(|| "—".to_owned(), |v| signed(v - lot.cost())),
            }
        })
        .collect();
    let content = Content {
        template: "position",
        page: "position",
        title: format!("{} lots", position.symbol),
        description: "The lots of one position, at average cost and first in, first out.",
    };
    render_content(
        &state,
        &caller,
        content,
        minijinja::context! {
            symbol => position.symbol,
            qty => qty.normalize().to_string(),
            cost => round_cents(cost).to_string(),
            average_cost => if qty.is_zero() { Decimal::ZERO } else { round_cents(cost / qty) }.to_string(),
            value => value.map(|v| v.to_string()),
            gain => value.map_or_else(|| "—".to_owned(), |v| signed(v - cost)),
            price => position.price.map(|p| round_cents(p).to_string()),
            lots,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_amounts_read_naturally() {
        assert_eq!(duration(240), "4 hours");
        assert_eq!(duration(60), "1 hour");
        assert_eq!(duration(90), "90 minutes");
        assert_eq!(duration(0), "0 minutes");
        assert_eq!(thousands("10000"), "10,000");
        assert_eq!(thousands("1234567.5"), "1,234,567.5");
        assert_eq!(thousands("100"), "100");
    }

    #[test]
    fn every_purchase_state_is_explained() {
        let states = purchase_states();
        assert_eq!(states.len(), PurchaseStatus::ALL.len());
        assert!(states.iter().all(|s| !s.meaning.is_empty()));
    }

    #[test]
    fn the_comparison_reads_the_tier_table() {
        let mut tiers = app::domain::tier::Tiers::default();
        tiers.free.max_symbols = Some(2);
        let table = TierTable::new(true, &tiers);
        let rows = comparison(&table);
        assert_eq!(rows[0].values, ["2", "3", "10", "Unlimited"]);
        let live = rows.last().unwrap();
        assert_eq!(live.values[0], "—");
        assert_eq!(live.values[app::domain::tier::Tier::Basic as usize], "Yes");
    }
}
