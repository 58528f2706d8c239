//! What a route reaches: the application, in a type of this crate's own so
//! the extractors can be implemented for it.

use std::ops::Deref;

use agentledger_app::App;

#[derive(Clone)]
pub struct AppState(App);

impl From<App> for AppState {
    fn from(app: App) -> Self {
        Self(app)
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
