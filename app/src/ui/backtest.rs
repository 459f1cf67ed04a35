//! Backtests in the browser: prices come from the server once (`GET /api/bars`, the broker's
//! daily bars), then the shared strategy code runs here in WebAssembly, so changing an
//! amount or a parameter re-runs the backtest at once, with no request. A DCA backtest
//! becomes a plan with "Use these settings".

use super::chart::{ChartData, LineChart, Series};
use super::format::{fixed, money};
use super::layout::RequireUser;
use super::plans::form::{
    LegText, PlanForm, SmartText, parse_amount, parse_day_of_month, parse_frequency, parse_smart,
};
use super::plans::hand_off;
use crate::api::AppError;
use crate::api::dca::bars;
use crate::domain::backtest::{BacktestConfig, BacktestReport, StrategySpec, run_backtest};
use crate::domain::market::{Bar, Symbol};
use crate::domain::plan::PlanStrategy;
use crate::domain::schedule::{Frequency, Schedule, Weekday};
use crate::domain::strategy::dca::Leg;
use crate::domain::strategy::ma_crossover::{ExitRule, MaCrossoverConfig, Sizing, VolumeFilter};
use leptos::prelude::*;
use leptos_meta::Title;
use rust_decimal::Decimal;

/// Every input of the backtest form as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacktestForm {
    /// `dca`, `smart_dca` or `ma_crossover`.
    pub strategy: String,
    pub legs: Vec<LegText>,
    pub frequency: String,
    pub weekday: String,
    pub day_of_month: String,
    pub from: String,
    pub to: String,
    pub period: String,
    pub when_not_met: String,
    pub fast: String,
    pub slow: String,
    pub initial_cash: String,
    /// The bot's other settings (an MA crossover), as typed.
    pub bot: BotText,
}

/// An MA crossover's settings beyond its averages, as the backtest form types them.
/// Empty optional fields mean "off".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotText {
    pub atr_period: String,
    /// `atr_risk`, `fixed_notional` or `all_in`.
    pub sizing: String,
    pub risk_pct: String,
    pub atr_multiple: String,
    pub notional: String,
    /// `atr_multiple`, `percent` or `none`, with its value.
    pub stop_kind: String,
    pub stop: String,
    pub target_kind: String,
    pub target: String,
    /// Empty: no volume filter.
    pub volume_multiple: String,
    pub volume_period: String,
    /// Empty: no trend filter.
    pub trend: String,
    pub whole_shares: bool,
    /// Percent of traded value.
    pub commission_pct: String,
}

impl Default for BotText {
    /// The bot's own defaults: ATR(14), risk 1 % with a 2 × ATR stop, no target.
    fn default() -> Self {
        Self {
            atr_period: "14".into(),
            sizing: "atr_risk".into(),
            risk_pct: "1".into(),
            atr_multiple: "2".into(),
            notional: "1000".into(),
            stop_kind: "atr_multiple".into(),
            stop: "2".into(),
            target_kind: "none".into(),
            target: "10".into(),
            volume_multiple: String::new(),
            volume_period: "20".into(),
            trend: String::new(),
            whole_shares: false,
            commission_pct: "0".into(),
        }
    }
}

impl BotText {
    /// The settings, or the first thing wrong with them.
    fn config(&self, fast: u32, slow: u32) -> Result<MaCrossoverConfig, String> {
        let number = |text: &str, what: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} must be a whole number."))
        };
        let decimal = |text: &str, what: &str| {
            text.trim()
                .parse::<Decimal>()
                .map_err(|_| format!("{what} must be a number."))
        };
        let exit = |kind: &str, value: &str, what: &str| {
            Ok::<_, String>(match kind {
                "atr_multiple" => Some(ExitRule::AtrMultiple(decimal(value, what)?)),
                "percent" => Some(ExitRule::Percent(decimal(value, what)?)),
                _ => None,
            })
        };
        let config = MaCrossoverConfig {
            fast,
            slow,
            atr_period: number(&self.atr_period, "The ATR period")?,
            sizing: match self.sizing.as_str() {
                "all_in" => Sizing::AllIn,
                "fixed_notional" => Sizing::FixedNotional {
                    amount: parse_amount(&self.notional)?,
                },
                _ => Sizing::AtrRisk {
                    risk_pct: decimal(&self.risk_pct, "The risk per trade")?,
                    atr_multiple: decimal(&self.atr_multiple, "The ATR multiple")?,
                },
            },
            stop_loss: exit(&self.stop_kind, &self.stop, "The stop loss")?,
            take_profit: exit(&self.target_kind, &self.target, "The take profit")?,
            volume_filter: match self.volume_multiple.trim() {
                "" => None,
                multiple => Some(VolumeFilter {
                    multiple: decimal(multiple, "The volume multiple")?,
                    period: number(&self.volume_period, "The volume period")?,
                }),
            },
            trend_filter: match self.trend.trim() {
                "" => None,
                days => Some(number(days, "The trend average")?),
            },
            whole_shares: self.whole_shares,
            commission: match self.commission_pct.trim() {
                "" => Decimal::ZERO,
                pct => {
                    let pct = decimal(pct, "The commission")?;
                    if pct < Decimal::ZERO || pct >= Decimal::TEN {
                        return Err("The commission must be 0 to under 10 %.".into());
                    }
                    pct / Decimal::ONE_HUNDRED
                }
            },
        };
        match config.first_problem() {
            Some(problem) => Err(problem.to_owned()),
            None => Ok(config),
        }
    }
}

impl Default for BacktestForm {
    fn default() -> Self {
        Self {
            strategy: "dca".into(),
            legs: vec![
                LegText {
                    symbol: "SPY".into(),
                    amount: "50".into(),
                },
                LegText {
                    symbol: "QQQ".into(),
                    amount: "25".into(),
                },
            ],
            frequency: "weekly".into(),
            weekday: "mon".into(),
            day_of_month: "first".into(),
            from: "2021-01-04".into(),
            to: "2025-12-31".into(),
            period: "50".into(),
            when_not_met: "skip".into(),
            // The bot's own defaults (5/20), as a bot plan starts.
            fast: MaCrossoverConfig::default().fast.to_string(),
            slow: MaCrossoverConfig::default().slow.to_string(),
            initial_cash: "10000".into(),
            bot: BotText::default(),
        }
    }
}

/// The symbols and dates whose prices a run needs: changing only these needs the server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataKey {
    pub symbols: Vec<String>,
    pub from: String,
    pub to: String,
}

impl BacktestForm {
    pub fn data_key(&self) -> DataKey {
        let mut symbols: Vec<String> = self
            .legs
            .iter()
            .take(if self.strategy == "ma_crossover" {
                1
            } else {
                usize::MAX
            })
            .filter_map(|l| Symbol::parse(&l.symbol).ok())
            .map(|s| s.to_string())
            .collect();
        symbols.sort();
        symbols.dedup();
        DataKey {
            symbols,
            from: self.from.trim().into(),
            to: self.to.trim().into(),
        }
    }

    /// The schedule the fields describe (at 10:00 New York), read by the plan form's parsers.
    fn schedule(&self) -> Result<Schedule, String> {
        let frequency = parse_frequency(&self.frequency)?;
        Ok(Schedule {
            frequency,
            interval: 1,
            weekday: match frequency {
                Frequency::Weekly => Some(Weekday::parse(&self.weekday)?),
                _ => None,
            },
            day_of_month: match frequency {
                Frequency::Monthly => Some(parse_day_of_month(&self.day_of_month)?),
                _ => None,
            },
            time: "10:00".into(),
            timezone: "America/New_York".into(),
            anchor: None,
        })
    }

    /// The strategy to run, or what is wrong with the form.
    pub fn spec(&self) -> Result<(StrategySpec, BacktestConfig), String> {
        let number = |text: &str, what: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} must be a whole number."))
        };
        if self.strategy == "ma_crossover" {
            let leg = self.legs.first().ok_or("Choose a symbol.")?;
            let symbol = Symbol::parse(&leg.symbol)?;
            let config = self.bot.config(
                number(&self.fast, "The fast period")?,
                number(&self.slow, "The slow period")?,
            )?;
            let cash = parse_amount(&self.initial_cash)?;
            if cash < Decimal::ONE {
                return Err("Start with at least $1.".into());
            }
            let spec = StrategySpec {
                strategy: PlanStrategy::Discretionary(config),
                legs: vec![Leg {
                    symbol,
                    amount: cash,
                }],
                schedule: Schedule::after_the_close(),
            };
            // The commission the bot sizes its entries for is the one the backtest charges.
            let run = BacktestConfig {
                commission: config.commission,
                ..BacktestConfig::default()
            };
            return Ok((spec, run));
        }
        let mut legs = Vec::new();
        for (i, leg) in self.legs.iter().enumerate() {
            let symbol =
                Symbol::parse(&leg.symbol).map_err(|m| format!("Symbol {}: {m}", i + 1))?;
            let amount = parse_amount(&leg.amount).map_err(|m| format!("Amount {}: {m}", i + 1))?;
            legs.push(Leg { symbol, amount });
        }
        let schedule = self.schedule()?;
        let strategy = match self.strategy.as_str() {
            "smart_dca" => PlanStrategy::Smart(parse_smart(&self.smart_text())?),
            "dca" => PlanStrategy::Pure,
            other => return Err(format!("\"{other}\" is not a strategy.")),
        };
        let spec = StrategySpec {
            strategy,
            legs,
            schedule,
        };
        Ok((spec, BacktestConfig::default()))
    }

    /// The Smart DCA fields, as the plan form's parser reads them (the backtest offers the
    /// close-above-average condition).
    fn smart_text(&self) -> SmartText<'_> {
        SmartText {
            condition: "close_above_sma",
            period: &self.period,
            fast: "",
            slow: "",
            when_not_met: &self.when_not_met,
        }
    }

    /// A new plan's form with this backtest's legs, schedule and strategy, handed to the
    /// plan editor by "Use these settings" (see [`hand_off`]).
    pub fn to_plan_form(&self) -> PlanForm {
        let mut form = PlanForm::new("America/New_York");
        form.legs = self.legs.clone();
        form.frequency = self.frequency.clone();
        form.weekday = self.weekday.clone();
        form.day_of_month = self.day_of_month.clone();
        form.time = "10:00".into();
        if self.strategy == "smart_dca" {
            form.mode = "smart".into();
            form.condition = "close_above_sma".into();
            form.period = self.period.clone();
            form.when_not_met = self.when_not_met.clone();
        }
        form
    }
}

/// Runs the form's backtest over loaded prices.
pub fn run(form: &BacktestForm, series: &[(Symbol, Vec<Bar>)]) -> Result<BacktestReport, String> {
    let (spec, config) = form.spec()?;
    run_backtest(&spec, series, config)
}

/// At most `max` points of the equity curve (evenly spaced, always the last), for drawing.
pub fn curve_chart(report: &BacktestReport, max: usize, dca: bool) -> ChartData {
    let curve = &report.equity_curve;
    let step = curve.len().div_ceil(max.max(1)).max(1);
    let mut picked: Vec<_> = curve.iter().step_by(step).collect();
    if let (Some(last), Some(tail)) = (curve.last(), picked.last())
        && last.time != tail.time
    {
        picked.push(last);
    }
    let ny = crate::domain::calendar::new_york();
    let mut series = vec![Series {
        name: "Value",
        class: "line-a",
        values: picked
            .iter()
            .map(|p| crate::domain::market::round_cents(p.equity))
            .collect(),
    }];
    if dca {
        series.push(Series {
            name: "Invested",
            class: "line-b",
            values: picked.iter().map(|p| p.invested).collect(),
        });
    }
    ChartData {
        labels: picked
            .iter()
            .map(|p| ny.to_datetime(p.time).date().to_string())
            .collect(),
        series,
    }
}

type Loaded = Option<(DataKey, Vec<(Symbol, Vec<Bar>)>)>;

async fn load(key: Option<DataKey>) -> Result<Loaded, AppError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let mut series = Vec::with_capacity(key.symbols.len());
    for symbol in &key.symbols {
        let found = bars(
            symbol.clone(),
            key.from.clone(),
            key.to.clone(),
            Some("1Day".into()),
        )
        .await?;
        let parsed = Symbol::parse(symbol)
            .map_err(|m| AppError::new(crate::api::ErrorCode::BadRequest, m))?;
        series.push((parsed, found));
    }
    Ok(Some((key, series)))
}

fn pct(value: Option<f64>) -> String {
    value
        .map(|v| format!("{} %", fixed(v, 2)))
        .unwrap_or_else(|| "—".into())
}

#[component]
pub fn BacktestPage() -> impl IntoView {
    view! {
        <Title text="Backtest · QuantShift" />
        <RequireUser>
            <Backtest />
        </RequireUser>
    }
}

#[component]
fn Backtest() -> impl IntoView {
    let form = RwSignal::new(BacktestForm::default());
    let requested = RwSignal::new(None::<DataKey>);
    let data = Resource::new(move || requested.get(), load);
    let loaded = Memo::new(move |_| data.get().and_then(Result::ok).flatten());
    let stale = move || {
        let want = form.with(BacktestForm::data_key);
        loaded.with(|l| l.as_ref().is_some_and(|(key, _)| *key != want))
    };
    let pending = RwSignal::new(false);
    let report = Memo::new(move |_| {
        let (_, series) = loaded.get()?;
        Some(form.with(|f| run(f, &series)))
    });
    let set = move |change: &dyn Fn(&mut BacktestForm)| form.update(|f| change(f));
    let strategy = move || form.with(|f| f.strategy.clone());
    let is_dca = move || strategy() != "ma_crossover";

    view! {
        <section class="page backtest">
            <header class="page-header"><h1>"Backtest"</h1></header>
            <form class="form panel" novalidate=true on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                requested.set(Some(form.with_untracked(BacktestForm::data_key)));
            }>
                <div class="field-row">
                    <div class="field">
                        <label for="bt-strategy">"Strategy"</label>
                        <select id="bt-strategy" prop:value=strategy
                            on:change=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| f.strategy = v.clone()); }>
                            <option value="dca">"Pure DCA"</option>
                            <option value="smart_dca">"Smart DCA"</option>
                            <option value="ma_crossover">"MA crossover"</option>
                        </select>
                    </div>
                    <FormInput form id="bt-from" label="From" kind="date" get=|f| f.from.clone() put=|f, v| f.from = v />
                    <FormInput form id="bt-to" label="To" kind="date" get=|f| f.to.clone() put=|f, v| f.to = v />
                </div>
                <div class="legs">
                    {move || {
                        let n = if is_dca() { form.with(|f| f.legs.len()) } else { 1 };
                        (0..n).map(|row| view! {
                            <div class="leg-row">
                                <div class="field">
                                    <label for=format!("bt-symbol-{row}")>{format!("Symbol {}", row + 1)}</label>
                                    <input id=format!("bt-symbol-{row}") type="text" autocomplete="off"
                                        prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.symbol.clone()).unwrap_or_default())
                                        on:input=move |ev| { let v = event_target_value(&ev).to_ascii_uppercase(); set(&|f: &mut BacktestForm| if let Some(l) = f.legs.get_mut(row) { l.symbol = v.clone(); }); } />
                                </div>
                                <Show when=is_dca>
                                    <div class="field">
                                        <label for=format!("bt-amount-{row}")>{format!("Amount {} ($)", row + 1)}</label>
                                        <input id=format!("bt-amount-{row}") type="text" inputmode="decimal"
                                            prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.amount.clone()).unwrap_or_default())
                                            on:input=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| if let Some(l) = f.legs.get_mut(row) { l.amount = v.clone(); }); } />
                                    </div>
                                </Show>
                            </div>
                        }).collect_view()
                    }}
                </div>
                <Show when=is_dca fallback=move || view! {
                    <div class="field-row">
                        <FormInput form id="bt-fast" label="Fast average (days)" kind="number" get=|f| f.fast.clone() put=|f, v| f.fast = v />
                        <FormInput form id="bt-slow" label="Slow average (days)" kind="number" get=|f| f.slow.clone() put=|f, v| f.slow = v />
                        <FormInput form id="bt-cash" label="Starting cash ($)" kind="text" get=|f| f.initial_cash.clone() put=|f, v| f.initial_cash = v />
                    </div>
                    <BotSettings form />
                }>
                    <div class="field-row">
                        <button type="button" class="btn btn-quiet" on:click=move |_| set(&|f: &mut BacktestForm| f.legs.push(LegText::default()))>"+ Add a symbol"</button>
                        <div class="field">
                            <label for="bt-frequency">"Buy"</label>
                            <select id="bt-frequency" prop:value=move || form.with(|f| f.frequency.clone())
                                on:change=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| f.frequency = v.clone()); }>
                                <option value="daily">"Every trading day"</option>
                                <option value="weekly">"Weekly"</option>
                                <option value="monthly">"Monthly"</option>
                            </select>
                        </div>
                        <Show when=move || form.with(|f| f.frequency == "weekly")>
                            <div class="field">
                                <label for="bt-weekday">"On"</label>
                                <select id="bt-weekday" prop:value=move || form.with(|f| f.weekday.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| f.weekday = v.clone()); }>
                                    {Weekday::ALL.into_iter().map(|d| view! { <option value=d.as_str()>{d.name()}</option> }).collect_view()}
                                </select>
                            </div>
                        </Show>
                        <Show when=move || form.with(|f| f.frequency == "monthly")>
                            <div class="field">
                                <label for="bt-day">"On"</label>
                                <select id="bt-day" prop:value=move || form.with(|f| f.day_of_month.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| f.day_of_month = v.clone()); }>
                                    <option value="first">"The first trading day"</option>
                                    <option value="last">"The last trading day"</option>
                                    {(1..=28).map(|n| view! { <option value=n.to_string()>{format!("Day {n}")}</option> }).collect_view()}
                                </select>
                            </div>
                        </Show>
                        <Show when=move || strategy() == "smart_dca">
                            <FormInput form id="bt-period" label="Buy only above the average of (days)" kind="number" get=|f| f.period.clone() put=|f, v| f.period = v />
                            <div class="field">
                                <label for="bt-otherwise">"Otherwise"</label>
                                <select id="bt-otherwise" prop:value=move || form.with(|f| f.when_not_met.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set(&|f: &mut BacktestForm| f.when_not_met = v.clone()); }>
                                    <option value="skip">"Skip"</option>
                                    <option value="carry_forward">"Carry forward"</option>
                                </select>
                            </div>
                        </Show>
                    </div>
                </Show>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Loading prices…" } else { "Run backtest" }}
                    </button>
                    <Show when=stale>
                        <p class="field-hint" data-testid="stale">"Symbols or dates changed: run again to load their prices."</p>
                    </Show>
                </div>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading prices…"</p> } set_pending=pending.write_only()>
                {move || match data.get() {
                    Some(Err(err)) => view! { <p class="form-error" role="alert" data-testid="backtest-error">{err.message}</p> }.into_any(),
                    _ => ().into_any(),
                }}
            </Transition>
            {move || match report.get() {
                None => view! {
                    <div class="empty-state" data-testid="backtest-empty">
                        <p>"Choose a strategy, symbols and dates, then run the backtest. It runs in your browser: change any amount or parameter afterwards and the results follow at once."</p>
                    </div>
                }.into_any(),
                Some(Err(message)) => view! { <p class="form-error" role="alert" data-testid="backtest-error">{message}</p> }.into_any(),
                Some(Ok(report)) => view! { <Results report form /> }.into_any(),
            }}
        </section>
    }
}

/// One labelled input bound to a field of the form.
#[component]
fn FormInput(
    form: RwSignal<BacktestForm>,
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    get: fn(&BacktestForm) -> String,
    put: fn(&mut BacktestForm, String),
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id type=kind inputmode=(kind == "text").then_some("decimal")
                prop:value=move || form.with(get)
                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| put(f, v)); } />
        </div>
    }
}

const EXITS: &[(&str, &str)] = &[
    ("atr_multiple", "ATR multiple"),
    ("percent", "Percent"),
    ("none", "None"),
];

/// Every setting of the bot beyond its averages (a bot made from the backtest gets them).
#[component]
fn BotSettings(form: RwSignal<BacktestForm>) -> impl IntoView {
    let sizing = move |kind: &'static str| move || form.with(|f| f.bot.sizing == kind);
    let exit_on = move |target: bool| {
        move || {
            form.with(|f| if target { &f.bot.target_kind } else { &f.bot.stop_kind } != "none")
        }
    };
    view! {
        <details class="bot-settings" data-testid="bot-settings">
            <summary>"All bot settings"</summary>
            <div class="field-row">
                <FormSelect form id="bt-sizing" label="Position size"
                    options=&[("atr_risk", "Risk a share of equity"), ("fixed_notional", "A fixed amount"), ("all_in", "All the cash")]
                    get=|f| f.bot.sizing.clone() put=|f, v| f.bot.sizing = v />
                <Show when=sizing("atr_risk")>
                    <FormInput form id="bt-risk" label="Risk per trade (%)" kind="text" get=|f| f.bot.risk_pct.clone() put=|f, v| f.bot.risk_pct = v />
                    <FormInput form id="bt-risk-atr" label="Stop distance (× ATR)" kind="text" get=|f| f.bot.atr_multiple.clone() put=|f, v| f.bot.atr_multiple = v />
                </Show>
                <Show when=sizing("fixed_notional")>
                    <FormInput form id="bt-notional" label="Per trade ($)" kind="text" get=|f| f.bot.notional.clone() put=|f, v| f.bot.notional = v />
                </Show>
                <FormInput form id="bt-atr" label="ATR period (days)" kind="number" get=|f| f.bot.atr_period.clone() put=|f, v| f.bot.atr_period = v />
            </div>
            <div class="field-row">
                <FormSelect form id="bt-stop-kind" label="Stop loss" options=EXITS
                    get=|f| f.bot.stop_kind.clone() put=|f, v| f.bot.stop_kind = v />
                <Show when=exit_on(false)>
                    <FormInput form id="bt-stop" label="Stop at" kind="text" get=|f| f.bot.stop.clone() put=|f, v| f.bot.stop = v />
                </Show>
                <FormSelect form id="bt-target-kind" label="Take profit" options=EXITS
                    get=|f| f.bot.target_kind.clone() put=|f, v| f.bot.target_kind = v />
                <Show when=exit_on(true)>
                    <FormInput form id="bt-target" label="Take profit at" kind="text" get=|f| f.bot.target.clone() put=|f, v| f.bot.target = v />
                </Show>
            </div>
            <div class="field-row">
                <FormInput form id="bt-volume" label="Volume above (× average; empty: off)" kind="text" get=|f| f.bot.volume_multiple.clone() put=|f, v| f.bot.volume_multiple = v />
                <FormInput form id="bt-volume-days" label="Volume average (days)" kind="number" get=|f| f.bot.volume_period.clone() put=|f, v| f.bot.volume_period = v />
                <FormInput form id="bt-trend" label="Only above the average of (days; empty: off)" kind="text" get=|f| f.bot.trend.clone() put=|f, v| f.bot.trend = v />
                <FormInput form id="bt-commission" label="Commission (%)" kind="text" get=|f| f.bot.commission_pct.clone() put=|f, v| f.bot.commission_pct = v />
                <FormSelect form id="bt-whole" label="Shares"
                    options=&[("fractional", "Fractional"), ("whole", "Whole shares only")]
                    get=|f| if f.bot.whole_shares { "whole" } else { "fractional" }.to_owned()
                    put=|f, v| f.bot.whole_shares = v == "whole" />
            </div>
        </details>
    }
}

/// One labelled select bound to a field of the form.
#[component]
fn FormSelect(
    form: RwSignal<BacktestForm>,
    id: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
    get: fn(&BacktestForm) -> String,
    put: fn(&mut BacktestForm, String),
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| put(f, v)); }>
                {options.iter().map(|(value, text)| view! {
                    <option value=*value selected=move || form.with(get) == *value>{*text}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

/// "Use these settings" on a bot backtest: creates the bot plan (its settings, the
/// symbol, the starting cash as its capital) and opens it.
#[component]
fn UseBotSettings(form: RwSignal<BacktestForm>) -> impl IntoView {
    let create = Action::new(|form: &BacktestForm| {
        let spec = form.spec();
        async move {
            let (spec, _) = spec.map_err(|message| {
                crate::api::AppError::new(crate::api::ErrorCode::BadRequest, message)
            })?;
            let (PlanStrategy::Discretionary(bot), Some(leg)) = (spec.strategy, spec.legs.first())
            else {
                return Err(crate::api::AppError::new(
                    crate::api::ErrorCode::BadRequest,
                    "Run a bot backtest first.",
                ));
            };
            crate::api::dca::create_bot_plan(leg.symbol.to_string(), leg.amount, bot).await
        }
    });
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(plan)) = create.value().get()
            && let Some(id) = plan.id
        {
            navigate(&format!("/plans/{id}"), Default::default());
        }
    });
    view! {
        <button type="button" class="btn btn-primary" data-testid="use-settings"
            disabled=move || create.pending().get()
            on:click=move |_| { create.dispatch(form.get_untracked()); }>
            "Use these settings"
        </button>
        <p class="form-error" role="alert" data-testid="use-settings-error">
            {move || create.value().get().and_then(Result::err).map(|err| {
                err.fields.values().next().cloned().unwrap_or(err.message)
            })}
        </p>
    }
}

#[component]
fn Results(report: BacktestReport, form: RwSignal<BacktestForm>) -> impl IntoView {
    let dca = report.stats.dca.clone();
    let chart = curve_chart(&report, 260, dca.is_some());
    let stats = report.stats.clone();
    let navigate = leptos_router::hooks::use_navigate();
    let seed = form.with_untracked(BacktestForm::to_plan_form);
    let is_dca = dca.is_some();
    view! {
        <div class="results" data-testid="backtest-results">
            <section class="panel">
                <h2>"Equity"</h2>
                <LineChart title="Backtest equity over time" data=Signal::stored(chart) testid="backtest-chart" />
            </section>
            <section class="panel">
                <table class="table stats" data-testid="backtest-stats">
                    <caption>"Results"</caption>
                    <tbody>
                        {match &dca {
                            Some(d) => view! {
                                <tr><th scope="row">"Purchases"</th><td data-testid="stat-purchases">{d.purchases}</td></tr>
                                <tr><th scope="row">"Total invested"</th><td data-testid="stat-invested">{money(d.total_invested)}</td></tr>
                                <tr><th scope="row">"Final value"</th><td data-testid="stat-final">{money(d.final_value)}</td></tr>
                                <tr><th scope="row">"Profit"</th><td>{money(d.profit)}</td></tr>
                                <tr><th scope="row">"Annualised return (XIRR)"</th><td>{pct(d.xirr_pct)}</td></tr>
                                <tr><th scope="row">"Lump sum of the same total, invested on day one"</th><td data-testid="stat-lump-sum">{money(d.lump_sum_final_value)}</td></tr>
                                <tr><th scope="row">"DCA against lump sum"</th><td data-testid="stat-versus">{
                                    let diff = d.final_value - d.lump_sum_final_value;
                                    if diff >= Decimal::ZERO { format!("DCA ahead by {}", money(diff)) } else { format!("Lump sum ahead by {}", money(-diff)) }
                                }</td></tr>
                            }.into_any(),
                            None => view! {
                                <tr><th scope="row">"Final equity"</th><td data-testid="stat-final">{money(stats.final_equity)}</td></tr>
                                <tr><th scope="row">"Total return"</th><td>{pct(Some(stats.total_return_pct))}</td></tr>
                                <tr><th scope="row">"CAGR"</th><td>{pct(stats.cagr_pct)}</td></tr>
                                <tr><th scope="row">"Trades"</th><td data-testid="stat-trades">{stats.trades}</td></tr>
                                <tr><th scope="row">"Win rate"</th><td>{pct(stats.win_rate_pct)}</td></tr>
                            }.into_any(),
                        }}
                        <tr><th scope="row">"Max drawdown"</th><td>{pct(Some(stats.max_drawdown_pct))}</td></tr>
                        <tr><th scope="row">"Sharpe ratio"</th><td>{stats.sharpe.map(|s| fixed(s, 2)).unwrap_or_else(|| "—".into())}</td></tr>
                    </tbody>
                </table>
                {if is_dca {
                    view! {
                        <button type="button" class="btn btn-primary" data-testid="use-settings"
                            on:click=move |_| {
                                hand_off::give(seed.clone());
                                navigate("/plans/new", Default::default());
                            }>
                            "Use these settings"
                        </button>
                    }.into_any()
                } else {
                    view! { <UseBotSettings form /> }.into_any()
                }}
            </section>
            {if is_dca {
                let total = report.purchases.len();
                view! {
                    <section class="panel">
                        <div class="table-wrap">
                            <table class="table" data-testid="backtest-purchases">
                                <caption>{format!("Purchases ({total}, the latest 50 shown)")}</caption>
                                <thead><tr><th scope="col">"Date"</th><th scope="col">"Symbol"</th><th scope="col">"Amount"</th><th scope="col">"Price"</th><th scope="col">"Shares"</th></tr></thead>
                                <tbody>
                                    {report.purchases.iter().rev().take(50).map(|p| view! {
                                        <tr>
                                            <td>{crate::domain::calendar::new_york().to_datetime(p.time).date().to_string()}</td>
                                            <td>{p.symbol.to_string()}</td>
                                            <td>{money(p.amount)}</td>
                                            <td>{money(p.price)}</td>
                                            <td>{p.qty.round_dp(6).normalize().to_string()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }.into_any()
            } else {
                view! {
                    <section class="panel">
                        <div class="table-wrap">
                            <table class="table" data-testid="backtest-trades">
                                <caption>"Trades"</caption>
                                <thead><tr><th scope="col">"Entry"</th><th scope="col">"Exit"</th><th scope="col">"Shares"</th><th scope="col">"P&L"</th><th scope="col">"Return"</th></tr></thead>
                                <tbody>
                                    {report.trades.iter().map(|t| view! {
                                        <tr>
                                            <td>{format!("{} @ {}", crate::domain::calendar::new_york().to_datetime(t.entry_time).date(), money(t.entry_price))}</td>
                                            <td>{format!("{} @ {}", crate::domain::calendar::new_york().to_datetime(t.exit_time).date(), money(t.exit_price))}</td>
                                            <td>{t.qty.round_dp(6).normalize().to_string()}</td>
                                            <td>{money(t.pnl)}</td>
                                            <td>{format!("{} %", fixed(t.return_pct, 2))}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }.into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::synthetic;

    fn series(symbols: &[&str]) -> Vec<(Symbol, Vec<Bar>)> {
        symbols
            .iter()
            .map(|s| {
                let symbol = Symbol::parse(s).unwrap();
                let bars = synthetic::daily_bars(
                    s,
                    7,
                    jiff::civil::date(2021, 1, 4),
                    jiff::civil::date(2022, 12, 30),
                );
                (symbol, bars)
            })
            .collect()
    }

    #[test]
    fn a_dca_backtest_runs_from_the_form_and_follows_the_amounts() {
        let data = series(&["QQQ", "SPY"]);
        let mut form = BacktestForm::default();
        let first = run(&form, &data).unwrap();
        let invested = first.stats.dca.as_ref().unwrap().total_invested;
        form.legs[0].amount = "100".into();
        let second = run(&form, &data).unwrap();
        let dca = second.stats.dca.as_ref().unwrap();
        assert!(dca.total_invested > invested);
        assert_eq!(dca.purchases, first.stats.dca.as_ref().unwrap().purchases);
        let chart = curve_chart(&second, 100, true);
        assert!(chart.labels.len() <= 101 && chart.labels.len() > 50);
        assert_eq!(chart.series.len(), 2);
    }

    #[test]
    fn smart_dca_and_the_ma_crossover_run_from_the_form_too() {
        let data = series(&["QQQ", "SPY"]);
        let mut form = BacktestForm {
            strategy: "smart_dca".into(),
            period: "20".into(),
            ..BacktestForm::default()
        };
        let smart = run(&form, &data).unwrap();
        let pure = run(&BacktestForm::default(), &data).unwrap();
        // Smart DCA skips the dates below its average, so it buys less often.
        assert!(smart.stats.dca.unwrap().purchases < pure.stats.dca.unwrap().purchases);
        form.strategy = "ma_crossover".into();
        form.legs[0].symbol = "QQQ".into();
        let ma = run(&form, &data[..1]).unwrap();
        assert!(ma.stats.dca.is_none());
        assert!(ma.stats.trades > 0, "{:?}", ma.stats);
        assert_eq!(
            form.data_key().symbols,
            ["QQQ"],
            "the crossover uses one symbol"
        );
        form.slow = "x".into();
        assert_eq!(
            form.spec().unwrap_err(),
            "The slow period must be a whole number."
        );
    }

    #[test]
    fn only_symbols_and_dates_need_new_prices() {
        let mut form = BacktestForm::default();
        let key = form.data_key();
        assert_eq!(key.symbols, ["QQQ", "SPY"]);
        form.legs[1].amount = "80".into();
        form.strategy = "smart_dca".into();
        assert_eq!(form.data_key(), key);
        form.to = "2024-12-31".into();
        assert_ne!(form.data_key(), key);
    }

    #[test]
    fn every_bot_setting_reaches_the_bot_and_bad_ones_are_explained() {
        let mut form = BacktestForm {
            strategy: "ma_crossover".into(),
            ..BacktestForm::default()
        };
        let (spec, run) = form.spec().unwrap();
        assert_eq!(
            spec.strategy,
            PlanStrategy::Discretionary(MaCrossoverConfig::default()),
            "the form starts at the bot's defaults"
        );
        assert_eq!(run.commission, Decimal::ZERO);
        form.fast = "10".into();
        form.slow = "50".into();
        form.bot = BotText {
            atr_period: "10".into(),
            sizing: "fixed_notional".into(),
            notional: "2500".into(),
            stop_kind: "percent".into(),
            stop: "8".into(),
            target_kind: "atr_multiple".into(),
            target: "3".into(),
            volume_multiple: "1.5".into(),
            volume_period: "30".into(),
            trend: "200".into(),
            whole_shares: true,
            commission_pct: "0.1".into(),
            ..BotText::default()
        };
        let (spec, run) = form.spec().unwrap();
        let want = MaCrossoverConfig {
            fast: 10,
            slow: 50,
            atr_period: 10,
            sizing: Sizing::FixedNotional {
                amount: Decimal::from(2500),
            },
            stop_loss: Some(ExitRule::Percent(Decimal::from(8))),
            take_profit: Some(ExitRule::AtrMultiple(Decimal::from(3))),
            volume_filter: Some(VolumeFilter {
                multiple: "1.5".parse().unwrap(),
                period: 30,
            }),
            trend_filter: Some(200),
            whole_shares: true,
            commission: "0.001".parse().unwrap(),
        };
        assert_eq!(spec.strategy, PlanStrategy::Discretionary(want));
        assert_eq!(
            run.commission, want.commission,
            "the backtest charges it too"
        );
        form.bot.stop_kind = "none".into();
        form.bot.target_kind = "none".into();
        form.bot.volume_multiple = " ".into();
        form.bot.trend = String::new();
        let (spec, _) = form.spec().unwrap();
        let PlanStrategy::Discretionary(config) = spec.strategy else {
            panic!("a bot");
        };
        assert_eq!(
            (
                config.stop_loss,
                config.take_profit,
                config.volume_filter,
                config.trend_filter
            ),
            (None, None, None, None)
        );
        form.bot.stop_kind = "percent".into();
        form.bot.stop = "150".into();
        assert!(form.spec().unwrap_err().contains("a stop below 100"));
        form.bot.stop = "five".into();
        assert_eq!(form.spec().unwrap_err(), "The stop loss must be a number.");
        form.bot.stop = "5".into();
        form.bot.trend = "1".into();
        assert!(form.spec().unwrap_err().contains("trend SMA period"));
        form.bot.trend = String::new();
        // The commission is typed in percent and explained in percent.
        form.bot.commission_pct = "12".into();
        assert_eq!(
            form.spec().unwrap_err(),
            "The commission must be 0 to under 10 %."
        );
        form.bot.commission_pct = " ".into();
        let (_, run) = form.spec().unwrap();
        assert_eq!(run.commission, Decimal::ZERO, "empty is no commission");
    }

    #[test]
    fn bad_input_is_explained_and_the_settings_make_a_plan() {
        let mut form = BacktestForm::default();
        form.legs[1].amount = "lots".into();
        assert_eq!(
            form.spec().unwrap_err(),
            "Amount 2: \"lots\" is not an amount."
        );
        form.legs[1].amount = "25".into();
        form.frequency = "fortnightly".into();
        assert!(form.spec().unwrap_err().contains("options"));
        form.frequency = "monthly".into();
        form.day_of_month = "last".into();
        form.strategy = "smart_dca".into();
        form.period = "200".into();
        let plan = form.to_plan_form();
        assert_eq!(plan.legs, form.legs);
        assert_eq!(
            (
                plan.frequency.as_str(),
                plan.day_of_month.as_str(),
                plan.mode.as_str()
            ),
            ("monthly", "last", "smart")
        );
        assert_eq!(plan.period, "200");
        let (_, errors) = plan.to_plan(
            &crate::api::dca::PlanLimits::default(),
            jiff::civil::date(2026, 12, 1),
        );
        // Everything but the name, which the user gives the plan.
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["name"], "{errors:?}");
    }
}
