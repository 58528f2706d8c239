//! Time series for uPlot, handed to the page as JSON in a `data-chart`
//! attribute (escaped like any attribute, so no value can close it); the
//! console's script draws every element that has one.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// One per point: a day (`YYYY-MM-DD`).
    pub labels: Vec<String>,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
    /// Drawn against the right-hand axis (another unit).
    pub right: bool,
}

impl Chart {
    pub fn new(labels: Vec<String>) -> Self {
        Self {
            labels,
            series: Vec::new(),
        }
    }

    pub fn series(mut self, label: &str, values: Vec<f64>, right: bool) -> Self {
        self.series.push(Series {
            label: label.into(),
            values,
            right,
        });
        self
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
