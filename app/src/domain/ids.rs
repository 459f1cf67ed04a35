//! Identifier newtypes, so a plan id can never be passed where a user id is expected, and
//! the deterministic client order id that makes every purchase idempotent.

use super::market::Symbol;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parses a hyphenated UUID (`8-4-4-4-12` hex digits), lower-casing it.
fn parse_uuid(input: &str) -> Result<String, String> {
    let id = input.trim().to_ascii_lowercase();
    let groups: Vec<&str> = id.split('-').collect();
    let shape_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shape_ok {
        Ok(id)
    } else {
        Err(format!("{input:?} is not a valid id"))
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, String> {
                parse_uuid(input).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// A user's id.
    UserId
);
uuid_id!(
    /// A DCA plan's id.
    PlanId
);

/// Alpaca's limit on `client_order_id`.
pub const CLIENT_ORDER_ID_MAX: usize = 48;

/// The id an order carries to the broker. Derived from (plan, slot, symbol) alone, so
/// whoever places a slot's order (a retry, a restarted server, a second instance) sends
/// the same id, and the broker refuses a duplicate instead of buying twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ClientOrderId(String);

/// A bot's orders' ids start with its plan id's first 26 hex digits (104 bits).
fn bot_prefix(plan: &PlanId) -> String {
    plan.as_str()
        .chars()
        .filter(|c| *c != '-')
        .take(26)
        .collect()
}

impl ClientOrderId {
    /// `<first 26 hex digits of the plan id>-<kind letter><slot, Unix milliseconds in base
    /// 36>-<symbol>`: at most 26 + 1 + 1 + 9 + 1 + 10 = 48 characters (Alpaca's limit) for
    /// slots before 2100. Milliseconds, so two "buy now" slots a moment apart never share
    /// an id; the kind letter, so a "buy now" at the instant of a scheduled slot does not.
    pub fn for_slot(
        plan: &PlanId,
        kind: crate::domain::lifecycle::SlotKind,
        slot: jiff::Timestamp,
        symbol: &Symbol,
    ) -> Self {
        let hex: String = plan
            .as_str()
            .chars()
            .filter(|c| *c != '-')
            .take(26)
            .collect();
        let id = format!(
            "{hex}-{}{}-{symbol}",
            kind.tag(),
            base36(slot.as_millisecond())
        );
        debug_assert!(id.len() <= CLIENT_ORDER_ID_MAX);
        Self(id)
    }

    /// A signal bot's order: `<first 26 hex digits of the plan id>-<b|x><trading day
    /// YYYYMMDD>` (`b` buys, `x` sells), at most one of each per bot and trading day, so a
    /// re-run of the day's evaluation (a crash between the signal and the order, a second
    /// instance) finds the order already placed instead of trading twice. 36 characters;
    /// the letters differ from slots' (`s`, `m`), so no bot id equals a slot's.
    pub fn for_bot(
        plan: &PlanId,
        day: jiff::civil::Date,
        side: crate::domain::order::Side,
    ) -> Self {
        let hex = bot_prefix(plan);
        let tag = match side {
            crate::domain::order::Side::Buy => 'b',
            crate::domain::order::Side::Sell => 'x',
        };
        let id = format!("{hex}-{tag}{}", day.strftime("%Y%m%d"));
        debug_assert!(id.len() <= CLIENT_ORDER_ID_MAX);
        Self(id)
    }

    /// The client order id of a sale that closes a stopped bot's position ("Stop and
    /// sell", "Sell its shares"): `<prefix>-c<slot, Unix milliseconds in base 36>`, one per
    /// closing slot, so a sale the broker refused can be asked for again while a re-run of
    /// the same slot finds its order. At most 26 + 2 + 9 = 37 characters before 2100. The
    /// letter `c` differs from the daily orders' (`b`, `x`).
    pub fn for_bot_exit(plan: &PlanId, slot: jiff::Timestamp) -> Self {
        let id = format!("{}-c{}", bot_prefix(plan), base36(slot.as_millisecond()));
        debug_assert!(id.len() <= CLIENT_ORDER_ID_MAX);
        Self(id)
    }

    /// The id of a bot's write-off in `slot`: shares its books count that the account no
    /// longer holds (sold outside QuantShift), taken out of its books as sold at the slot's
    /// price. Never sent to a broker: `<prefix>-w<slot, Unix milliseconds in base 36>`, at
    /// most one per slot, so a re-run of the slot writes it once.
    pub fn for_bot_write_off(plan: &PlanId, slot: jiff::Timestamp) -> Self {
        let id = format!("{}-w{}", bot_prefix(plan), base36(slot.as_millisecond()));
        debug_assert!(id.len() <= CLIENT_ORDER_ID_MAX);
        Self(id)
    }

    /// Whether this is a bot's write-off ([`Self::for_bot_write_off`]), not an order.
    pub fn is_write_off(&self) -> bool {
        self.0
            .split_once('-')
            .is_some_and(|(prefix, rest)| prefix.len() == 26 && rest.starts_with('w'))
    }

    /// An id read back from where it was stored (it was made by `for_slot` when written).
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn base36(value: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let (negative, mut n) = (value < 0, value.unsigned_abs());
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "6F9619FF-8B86-4011-B42D-00C04FC964FF";

    #[test]
    fn ids_parse_once() {
        let plan = PlanId::parse(PLAN).unwrap();
        assert_eq!(plan.as_str(), "6f9619ff-8b86-4011-b42d-00c04fc964ff");
        assert!(PlanId::parse("6f9619ff8b864011b42d00c04fc964ff").is_err());
        assert!(UserId::parse("not-an-id").is_err());
        let json: UserId = serde_json::from_str(&format!("\"{PLAN}\"")).unwrap();
        assert_eq!(json.as_str(), plan.as_str());
    }

    #[test]
    fn client_order_ids_are_deterministic_and_short() {
        use crate::domain::lifecycle::SlotKind::{Manual, Scheduled};
        let plan = PlanId::parse(PLAN).unwrap();
        let slot = jiff::Timestamp::from_second(4_102_444_799).unwrap(); // 2099-12-31T23:59:59Z
        let symbol = Symbol::parse("BRK.B").unwrap();
        let id = ClientOrderId::for_slot(&plan, Scheduled, slot, &symbol);
        assert_eq!(id, ClientOrderId::for_slot(&plan, Scheduled, slot, &symbol));
        assert_eq!(id.as_str(), "6f9619ff8b864011b42d00c04f-s1gcmxplw8-BRK.B");
        assert_ne!(id, ClientOrderId::for_slot(&plan, Manual, slot, &symbol));

        let long = Symbol::parse("ABCDEFGHIJ").unwrap();
        let longest = ClientOrderId::for_slot(&plan, Manual, slot, &long);
        assert_eq!(longest.as_str().len(), CLIENT_ORDER_ID_MAX);
        let next = slot
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap();
        assert_ne!(id, ClientOrderId::for_slot(&plan, Scheduled, next, &symbol));
        assert_ne!(
            id,
            ClientOrderId::for_slot(&plan, Scheduled, slot, &Symbol::parse("SPY").unwrap())
        );
    }

    #[test]
    fn base36_by_hand() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(-36), "-10");
    }

    #[test]
    fn bot_orders_have_one_id_per_bot_day_and_side() {
        use crate::domain::order::Side;
        let plan = PlanId::parse(PLAN).unwrap();
        let day = jiff::civil::date(2026, 12, 7);
        let buy = ClientOrderId::for_bot(&plan, day, Side::Buy);
        assert_eq!(buy.as_str(), "6f9619ff8b864011b42d00c04f-b20261207");
        assert_eq!(
            buy,
            ClientOrderId::for_bot(&plan, day, Side::Buy),
            "deterministic"
        );
        let sell = ClientOrderId::for_bot(&plan, day, Side::Sell);
        assert_eq!(sell.as_str(), "6f9619ff8b864011b42d00c04f-x20261207");
        assert_ne!(
            buy,
            ClientOrderId::for_bot(&plan, day.tomorrow().unwrap(), Side::Buy)
        );
        let other = PlanId::parse("7F9619FF-8B86-4011-B42D-00C04FC964FF").unwrap();
        assert_ne!(buy, ClientOrderId::for_bot(&other, day, Side::Buy));
        assert!(buy.as_str().len() <= CLIENT_ORDER_ID_MAX);
    }

    #[test]
    fn each_closing_sale_of_a_bot_has_its_own_id() {
        let plan = PlanId::parse(PLAN).unwrap();
        let at: jiff::Timestamp = "2026-12-07T15:00:00Z".parse().unwrap();
        let exit = ClientOrderId::for_bot_exit(&plan, at);
        assert_eq!(exit.as_str(), "6f9619ff8b864011b42d00c04f-cmxdectc0");
        assert_eq!(
            exit,
            ClientOrderId::for_bot_exit(&plan, at),
            "a re-run finds it"
        );
        let again = at.checked_add(jiff::SignedDuration::from_mins(5)).unwrap();
        assert_ne!(exit, ClientOrderId::for_bot_exit(&plan, again), "a new try");
        let last = "2099-12-31T23:59:59.999Z".parse().unwrap();
        assert!(ClientOrderId::for_bot_exit(&plan, last).as_str().len() <= CLIENT_ORDER_ID_MAX);
    }

    #[test]
    fn write_offs_are_told_from_orders() {
        let plan = PlanId::parse(PLAN).unwrap();
        let at: jiff::Timestamp = "2026-12-07T21:10:00Z".parse().unwrap();
        let off = ClientOrderId::for_bot_write_off(&plan, at);
        assert_eq!(off.as_str(), "6f9619ff8b864011b42d00c04f-wmxdrkmyo");
        assert!(off.is_write_off());
        assert_eq!(off, ClientOrderId::for_bot_write_off(&plan, at));
        let day = jiff::civil::date(2026, 12, 7);
        for order in [
            ClientOrderId::for_bot(&plan, day, crate::domain::order::Side::Buy),
            ClientOrderId::for_bot(&plan, day, crate::domain::order::Side::Sell),
            ClientOrderId::for_bot_exit(&plan, at),
            ClientOrderId::for_slot(
                &plan,
                crate::domain::lifecycle::SlotKind::Scheduled,
                at,
                &Symbol::parse("WMT").unwrap(),
            ),
        ] {
            assert!(!order.is_write_off(), "{order}");
        }
        let last = "2099-12-31T23:59:59.999Z".parse().unwrap();
        assert!(
            ClientOrderId::for_bot_write_off(&plan, last).as_str().len() <= CLIENT_ORDER_ID_MAX
        );
    }
}
