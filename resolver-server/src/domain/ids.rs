//! Identifier newtypes. Ids are minted by the store, never chosen by a caller, and are never
//! reused, so an id of a deleted record can only ever mean "not found".

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(
    /// A tenant. Every stored key starts with it.
    AccountId
);
numeric_id!(
    /// A contact; also Thulium's `customer_id`.
    ContactId
);
numeric_id!(
    /// A contact group.
    GroupId
);
numeric_id!(
    /// A behaviour rule.
    RuleId
);
numeric_id!(
    /// One action of one rule firing, delivered at least once: webhooks send it as
    /// `X-Ssrm-Delivery`, SMS as `unique_id`, so receivers can drop duplicates.
    DeliveryId
);

/// The visitor id held in the `ssrm_user` cookie: a UUID, printed lower-case and hyphenated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Suid(pub Uuid);

impl Suid {
    /// Parses a cookie value. Only the hyphenated 36-character form is accepted, the form the
    /// tracker writes; anything else is not a suid.
    pub fn parse(input: &str) -> Option<Suid> {
        let input = input.trim();
        if input.len() != 36 {
            return None;
        }
        Uuid::try_parse(input).ok().map(Suid)
    }

    /// A fresh random (v4) suid.
    pub fn random() -> Suid {
        Suid(Uuid::new_v4())
    }
}

impl fmt::Display for Suid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suid_accepts_only_the_hyphenated_form() {
        let text = "13557003-54df-49ed-8faf-c2df2e67edd3";
        assert_eq!(
            Suid::parse(text).map(|s| s.to_string()).as_deref(),
            Some(text)
        );
        assert_eq!(
            Suid::parse("13557003-54DF-49ED-8FAF-C2DF2E67EDD3")
                .map(|s| s.to_string())
                .as_deref(),
            Some(text)
        );
        assert!(Suid::parse("1355700354df49ed8fafc2df2e67edd3").is_none());
        assert!(Suid::parse("not-a-uuid").is_none());
        assert!(Suid::parse("").is_none());
    }
}
