//! The analytics routes' CSV form (`?format=csv`): a header row, then one
//! row per JSON row, the same figures in the same order as the JSON fields,
//! for a spreadsheet or a warehouse load.

use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stint_core::analytics::{AttributionRow, BreakdownRow, DayRow, Figures, FunnelStep};

use crate::api::{ApiError, ApiResult, ok};
use crate::views::{FunnelView, RealtimeView};

/// How an analytics route answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The JSON envelope (the default).
    Json,
    /// `text/csv`.
    Csv,
}

impl Format {
    /// The `format` parameter: absent, `json` or `csv`.
    pub fn parse(raw: Option<&str>) -> ApiResult<Format> {
        match raw {
            None | Some("" | "json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(ApiError::BadRequest("format must be json or csv".into())),
        }
    }
}

/// Figures that can be written as CSV rows.
pub trait Tabular {
    /// The header row: the JSON fields' names, in their order.
    fn header(&self) -> Vec<&'static str>;
    /// The rows, as cells.
    fn rows(&self) -> Vec<Vec<String>>;
}

/// An analytics answer in the format asked for; `name` names the download.
pub struct Table<T> {
    data: T,
    format: Format,
    name: String,
}

impl<T> Table<T> {
    /// `data`, answered as `format`; a CSV download is called `name.csv`.
    pub fn new(data: T, format: Format, name: impl Into<String>) -> Self {
        Table {
            data,
            format,
            name: name.into(),
        }
    }
}

impl<T: Serialize + Tabular> IntoResponse for Table<T> {
    fn into_response(self) -> Response {
        if self.format == Format::Json {
            return ok(self.data).into_response();
        }
        match csv_bytes(&self.data) {
            Ok(body) => (
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}.csv\"", self.name),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => ApiError::Internal(format!("writing CSV: {e}")).into_response(),
        }
    }
}

fn csv_bytes(data: &impl Tabular) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(data.header())?;
    for row in data.rows() {
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

const FIGURES: [&str; 9] = [
    "visitors",
    "sessions",
    "pageViews",
    "bounceRate",
    "avgSessionSeconds",
    "logins",
    "conversions",
    "conversionRate",
    "revenue",
];

/// A row: `label` (an unknown value, `null` in JSON, is an empty cell), then the figures.
fn figure_row(label: Option<&str>, f: &Figures) -> Vec<String> {
    vec![
        label.unwrap_or_default().to_owned(),
        f.visitors.to_string(),
        f.sessions.to_string(),
        f.page_views.to_string(),
        f.bounce_rate.to_string(),
        f.avg_session_seconds.to_string(),
        f.logins.to_string(),
        f.conversions.to_string(),
        f.conversion_rate.to_string(),
        f.revenue.to_string(),
    ]
}

/// `first` then the figures' columns.
fn with_figures(first: &'static str) -> Vec<&'static str> {
    std::iter::once(first).chain(FIGURES).collect()
}

impl Tabular for Vec<DayRow> {
    fn header(&self) -> Vec<&'static str> {
        with_figures("date")
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|r| figure_row(Some(&r.date), &r.figures))
            .collect()
    }
}

impl Tabular for Vec<BreakdownRow> {
    fn header(&self) -> Vec<&'static str> {
        with_figures("value")
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|r| figure_row(r.value.as_deref(), &r.figures))
            .collect()
    }
}

impl Tabular for Vec<AttributionRow> {
    fn header(&self) -> Vec<&'static str> {
        vec!["value", "visitors", "orders", "revenue", "averageOrderValue"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|r| {
                vec![
                    r.value.clone().unwrap_or_default(),
                    r.visitors.to_string(),
                    r.orders.to_string(),
                    r.revenue.to_string(),
                    r.average_order_value.to_string(),
                ]
            })
            .collect()
    }
}

fn step_cells(s: &FunnelStep) -> [String; 3] {
    [s.step.clone(), s.sessions.to_string(), s.drop_off.to_string()]
}

/// With a dimension, one row per value and step: `value` first.
impl Tabular for FunnelView {
    fn header(&self) -> Vec<&'static str> {
        match self {
            FunnelView::Steps(_) => vec!["step", "sessions", "dropOff"],
            FunnelView::ByValue(_) => vec!["value", "step", "sessions", "dropOff"],
        }
    }

    fn rows(&self) -> Vec<Vec<String>> {
        match self {
            FunnelView::Steps(steps) => steps.iter().map(|s| step_cells(s).to_vec()).collect(),
            FunnelView::ByValue(values) => values
                .iter()
                .flat_map(|v| {
                    v.steps.iter().map(|s| {
                        std::iter::once(v.value.clone().unwrap_or_default())
                            .chain(step_cells(s))
                            .collect()
                    })
                })
                .collect(),
        }
    }
}

/// One row per top page, the window's counts repeated on each (one row,
/// with the page cells empty, when no page was viewed).
impl Tabular for RealtimeView {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "activeVisitors",
            "activeSessions",
            "activeCustomers",
            "page",
            "pageViews",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let active = [
            self.active.active_visitors.to_string(),
            self.active.active_sessions.to_string(),
            self.active.active_customers.to_string(),
        ];
        if self.top_pages.is_empty() {
            return vec![active.into_iter().chain([String::new(), String::new()]).collect()];
        }
        self.top_pages
            .iter()
            .map(|p| {
                active
                    .iter()
                    .cloned()
                    .chain([p.page.clone(), p.page_views.to_string()])
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_json_fields_in_order() {
        let row = DayRow {
            date: "2026-12-01".into(),
            figures: Figures {
                visitors: 3,
                revenue: 59.9,
                ..Figures::default()
            },
        };
        let json = serde_json::to_value(&row).unwrap();
        let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let rows = vec![row];
        let mut header = rows.header();
        header.sort_unstable();
        let mut sorted = fields.clone();
        sorted.sort_unstable();
        assert_eq!(header, sorted);
        let text = String::from_utf8(csv_bytes(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "date,visitors,sessions,pageViews,bounceRate,avgSessionSeconds,logins,conversions,conversionRate,revenue\n\
             2026-12-01,3,0,0,0,0,0,0,0,59.9\n"
        );
    }

    #[test]
    fn a_value_with_commas_or_quotes_is_quoted() {
        let rows = vec![
            BreakdownRow {
                value: Some("news, \"spring\"".into()),
                figures: Figures::default(),
            },
            BreakdownRow {
                value: None,
                figures: Figures::default(),
            },
        ];
        let text = String::from_utf8(csv_bytes(&rows).unwrap()).unwrap();
        let mut lines = text.lines().skip(1);
        assert!(lines.next().unwrap().starts_with("\"news, \"\"spring\"\"\",0,"));
        assert!(lines.next().unwrap().starts_with(",0,"));
    }

    #[test]
    fn only_json_and_csv_are_formats() {
        assert_eq!(Format::parse(None).unwrap(), Format::Json);
        assert_eq!(Format::parse(Some("csv")).unwrap(), Format::Csv);
        assert!(Format::parse(Some("xml")).is_err());
    }
}
