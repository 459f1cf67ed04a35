//! The purchase engine's lifecycle as types: what became of a purchase, why one was
//! skipped, where a slot is and what made it. Each is stored as its `snake_case` name
//! (TEXT with a CHECK constraint in both databases) and sent the same way on the wire.

use serde::{Deserialize, Serialize};

/// Declares a lifecycle enum whose wire and database form is its `snake_case` name.
macro_rules! lifecycle_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire and database form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

lifecycle_enum! {
    /// What became of one purchase (one leg of one slot).
    PurchaseStatus {
        /// Written before sending; not yet answered by the broker.
        Pending => "pending",
        /// The broker took the order and it has not filled yet (e.g. the market is closed).
        Accepted => "accepted",
        Filled => "filled",
        /// Part of the order filled; the rest was canceled or expired (`qty` is what filled).
        PartiallyFilled => "partially_filled",
        /// The broker refused the order, or canceled or expired it with nothing filled.
        Rejected => "rejected",
        /// It could not be placed (bad keys, or the broker kept failing).
        Failed => "failed",
        /// Its time passed while the server was not running.
        Missed => "missed",
        /// Not bought on purpose (`skip_reason` says why).
        Skipped => "skipped",
        /// The broker never said what became of the order within the reconcile window.
        Unknown => "unknown",
    }
}

impl PurchaseStatus {
    /// Still waiting for the broker: the order may yet fill.
    pub const fn is_open(self) -> bool {
        matches!(self, PurchaseStatus::Pending | PurchaseStatus::Accepted)
    }

    /// Something was bought.
    pub const fn bought(self) -> bool {
        matches!(
            self,
            PurchaseStatus::Filled | PurchaseStatus::PartiallyFilled
        )
    }

    /// Went wrong in a way the user should look at.
    pub const fn is_problem(self) -> bool {
        matches!(
            self,
            PurchaseStatus::Rejected | PurchaseStatus::Failed | PurchaseStatus::Unknown
        )
    }

    /// What the status means, in plain words (the history page's explanation).
    pub const fn words(self) -> &'static str {
        match self {
            PurchaseStatus::Filled => "Bought",
            PurchaseStatus::PartiallyFilled => "Bought in part; the rest of the order was canceled",
            PurchaseStatus::Accepted => "Sent; waiting for the fill",
            PurchaseStatus::Pending => "Queued",
            PurchaseStatus::Rejected => "Rejected by the broker",
            PurchaseStatus::Failed => "Could not be placed",
            PurchaseStatus::Missed => "Missed",
            PurchaseStatus::Skipped => "Skipped",
            PurchaseStatus::Unknown => "The broker never confirmed this order",
        }
    }
}

lifecycle_enum! {
    /// Why a purchase was skipped. Only `ConditionNotMet` is carried forward by Smart DCA.
    SkipReason {
        /// The plan's Smart DCA condition did not hold (or lacked price history).
        ConditionNotMet => "condition_not_met",
        /// The plan was paused or stopped at the slot's time.
        PlanInactive => "plan_inactive",
        /// The broker account could not be reached or its keys could not be opened.
        BrokerUnavailable => "broker_unavailable",
    }
}

lifecycle_enum! {
    /// Where a slot (one execution of a plan) is in its life.
    SlotState {
        /// Waiting for a worker (from `not_before`).
        Due => "due",
        /// A worker holds its lease.
        Running => "running",
        /// Every leg reached an outcome.
        Done => "done",
        /// Its time passed while the server was not running (or the plan was deleted).
        Missed => "missed",
        /// It ran out of attempts; `reason` says why.
        Failed => "failed",
    }
}

lifecycle_enum! {
    /// What made a slot.
    SlotKind {
        /// The plan's schedule.
        Scheduled => "scheduled",
        /// The user pressed "buy now".
        Manual => "manual",
    }
}

impl SlotKind {
    /// One letter in client order ids, so a "buy now" at the very instant of a scheduled
    /// slot gets its own order.
    pub const fn tag(self) -> char {
        match self {
            SlotKind::Scheduled => 's',
            SlotKind::Manual => 'm',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for status in PurchaseStatus::ALL {
            assert_eq!(PurchaseStatus::parse(status.as_str()), Some(*status));
            let wire = serde_json::to_string(status).unwrap();
            assert_eq!(wire, format!("\"{status}\""));
        }
        for state in SlotState::ALL {
            assert_eq!(SlotState::parse(state.as_str()), Some(*state));
        }
        for kind in SlotKind::ALL {
            assert_eq!(SlotKind::parse(kind.as_str()), Some(*kind));
        }
        for reason in SkipReason::ALL {
            assert_eq!(SkipReason::parse(reason.as_str()), Some(*reason));
        }
        assert_eq!(PurchaseStatus::parse("Filled"), None);
    }

    #[test]
    fn open_bought_and_problem_statuses() {
        use PurchaseStatus::*;
        assert!(Pending.is_open() && Accepted.is_open() && !Filled.is_open());
        assert!(Filled.bought() && PartiallyFilled.bought() && !Accepted.bought());
        assert!(Unknown.is_problem() && Failed.is_problem() && !Skipped.is_problem());
    }
}
