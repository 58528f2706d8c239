//! What a route reaches: the application, in a type of this crate's own so
//! the extractors can be implemented for it.

use std::ops::Deref;
use std::sync::Arc;

use agentledger_app::App;

/// Shared behind one `Arc`: every layer and extractor of a request clones
/// the state, and `App` is some forty reference-counted handles, whose
/// counts the two cores otherwise fought over on every request.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl From<App> for AppState {
    fn from(app: App) -> Self {
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
