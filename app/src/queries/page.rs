//! A page of a list read from a read model, and what every list is asked
//! for beside its own filters.

use serde::Serialize;

use crate::error::AppError;

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE: i64 = 50;
/// Items per page at most.
pub const MAX_PAGE: i64 = 500;

/// Where a list starts, how long its page is, and how far the model must
/// have applied the log first.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Items per page, 1 to `MAX_PAGE` (`DEFAULT_PAGE` when absent).
    pub limit: Option<i64>,
    pub min_position: Option<u64>,
}

impl ListParams {
    pub(crate) fn page_size(&self) -> Result<i64, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if (1..=MAX_PAGE).contains(&limit) {
            Ok(limit)
        } else {
            // The document states the bounds: a request outside them is
            // malformed (400), not refused by a rule.
            Err(AppError::BadRequest(format!(
                "limit must be 1 to {MAX_PAGE}"
            )))
        }
    }
}

/// One page of a list, with the cursor of the next one (read-model lists go
/// from newest to older, a task's output from its first chunk on).
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<i64>,
    /// How far the read model has applied the log.
    pub position: u64,
}

impl<T> Page<T> {
    /// A page read with `limit`; a full one may have more after it, from the
    /// key of its last item on.
    pub(crate) fn new(items: Vec<T>, limit: i64, position: u64, key: impl Fn(&T) -> i64) -> Self {
        let next_cursor = (items.len() as i64 == limit)
            .then(|| items.last().map(key))
            .flatten();
        Self {
            items,
            next_cursor,
            position,
        }
    }

    /// The same page with each item turned into what is shown of it.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            position: self.position,
        }
    }
}

#[cfg(feature = "openapi")]
pub use schema::Listed;

#[cfg(feature = "openapi")]
mod schema {
    use std::borrow::Cow;

    use agentledger_projections::command_history::CommandRow;
    use agentledger_projections::operation_log::Operation;
    use agentledger_projections::run_log::Run;
    use agentledger_projections::tasks::TaskRow;
    use utoipa::openapi::schema::{
        ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
    };
    use utoipa::openapi::{Ref, RefOr};
    use utoipa::{PartialSchema, ToSchema};

    use super::Page;

    /// What a page of these is called in the API's document. Derived, a
    /// generic page would be `Page_TaskRow` with its items inlined; the
    /// names clients were generated with stay (`TaskPage`, items by
    /// reference).
    pub trait Listed {
        const PAGE: &'static str;
    }

    impl Listed for TaskRow {
        const PAGE: &'static str = "TaskPage";
    }

    impl Listed for Run {
        const PAGE: &'static str = "RunPage";
    }

    impl Listed for Operation {
        const PAGE: &'static str = "OperationPage";
    }

    impl Listed for CommandRow {
        const PAGE: &'static str = "CommandPage";
    }

    impl Listed for crate::tasks::OutputChunk {
        const PAGE: &'static str = "OutputPage";
    }

    impl Listed for agentledger_projections::webhook_deliveries::DeliveryRow {
        const PAGE: &'static str = "DeliveryPage";
    }

    impl Listed for agentledger_projections::tools::ToolRow {
        const PAGE: &'static str = "ToolPage";
    }

    impl Listed for agentledger_projections::workflows::WorkflowRow {
        const PAGE: &'static str = "WorkflowPage";
    }

    impl Listed for agentledger_projections::executions::ExecutionRow {
        const PAGE: &'static str = "ExecutionPage";
    }

    impl Listed for agentledger_projections::agent_stats::AgentRow {
        const PAGE: &'static str = "AgentPage";
    }

    impl Listed for agentledger_projections::directory::TemplateRow {
        const PAGE: &'static str = "TemplatePage";
    }

    impl Listed for agentledger_projections::directory::TenantRow {
        const PAGE: &'static str = "TenantPage";
    }

    impl Listed for agentledger_projections::directory::ApiKeyRow {
        const PAGE: &'static str = "ApiKeyPage";
    }

    impl Listed for crate::queries::budgets::BudgetStatus {
        const PAGE: &'static str = "BudgetPage";
    }

    impl Listed for agentledger_projections::enrollment_tokens::EnrollmentTokenRow {
        const PAGE: &'static str = "EnrollmentTokenPage";
    }

    fn int64() -> Option<SchemaFormat> {
        Some(SchemaFormat::KnownFormat(KnownFormat::Int64))
    }

    impl<T: ToSchema + Listed> PartialSchema for Page<T> {
        fn schema() -> RefOr<Schema> {
            let next_cursor = ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                .format(int64())
                .description(Some(
                    "Pass as `cursor` for the next page; absent on the last page.",
                ));
            let position = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(int64())
                .minimum(Some(0))
                .description(Some("How far the read model has applied the log."));
            ObjectBuilder::new()
                .property(
                    "items",
                    ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
                )
                .required("items")
                .property("next_cursor", next_cursor)
                .property("position", position)
                .required("position")
                .into()
        }
    }

    impl<T: ToSchema + Listed> ToSchema for Page<T> {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed(T::PAGE)
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((T::name().into_owned(), T::schema()));
            T::schemas(schemas);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_past_its_last_item_and_a_short_one_ends_the_list() {
        let full = Page::new(vec![9, 8, 7], 3, 12, |n| *n);
        assert_eq!((full.next_cursor, full.position), (Some(7), 12));
        let last = Page::new(vec![6, 5], 3, 12, |n| *n);
        assert_eq!(last.next_cursor, None);
        let shown = full.map(|n| n * 10);
        assert_eq!(
            (shown.items, shown.next_cursor),
            (vec![90, 80, 70], Some(7))
        );
    }

    #[test]
    fn page_sizes_outside_the_documented_bounds_are_malformed() {
        let asked = |limit| ListParams {
            limit,
            ..ListParams::default()
        };
        assert_eq!(asked(None).page_size().ok(), Some(DEFAULT_PAGE));
        assert_eq!(asked(Some(MAX_PAGE)).page_size().ok(), Some(MAX_PAGE));
        for wrong in [0, -1, MAX_PAGE + 1] {
            assert!(matches!(
                asked(Some(wrong)).page_size(),
                Err(AppError::BadRequest(_))
            ));
        }
    }
}
