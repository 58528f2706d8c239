//! What the read routes' query parameters share: the paging every list
//! takes, described once, and how the document shows `as_of`.

use chrono::{DateTime, Utc};

// How the document describes `as_of` (`agentledger_store::AsOf` reads it):
// a log position, or an RFC 3339 time.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // never built: only its schema is used
pub enum AsOfParam {
    Position(u64),
    Time(DateTime<Utc>),
}

/// A list's query parameters: its own fields, then `cursor`, `limit` and
/// `min_position`, which every list takes. One flat struct, since serde
/// cannot deny unknown fields of a flattened one and reads numbers in it as
/// strings from a query string.
macro_rules! list_query {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// The `next_cursor` of the previous page.
            pub cursor: Option<i64>,
            /// Items per page, 1 to 500 (50 when absent).
            #[param(minimum = 1, maximum = 500)]
            pub limit: Option<i64>,
            /// Wait (at most 5 s) until the log up to this position is in the read model.
            pub min_position: Option<u64>,
        }

        impl $name {
            /// The paging asked for.
            pub fn list(&self) -> agentledger_app::queries::ListParams {
                agentledger_app::queries::ListParams {
                    cursor: self.cursor,
                    limit: self.limit,
                    min_position: self.min_position,
                }
            }
        }
    };
    // The same list's filters without its paging, for a route that sums up
    // every item that matches; it reads as the list's first page.
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)*
        }
        $(#[$unpaged_attr:meta])*
        unpaged pub struct $unpaged:ident;
    ) => {
        list_query! {
            $(#[$attr])*
            pub struct $name {
                $($(#[$field_attr])* pub $field: $ty,)*
            }
        }

        $(#[$unpaged_attr])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[serde(deny_unknown_fields)]
        pub struct $unpaged {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// Wait (at most 5 s) until the log up to this position is in the read model.
            pub min_position: Option<u64>,
        }

        impl From<$unpaged> for $name {
            fn from(q: $unpaged) -> Self {
                Self {
                    $($field: q.$field,)*
                    cursor: None,
                    limit: None,
                    min_position: q.min_position,
                }
            }
        }
    };
}

pub(crate) use list_query;
