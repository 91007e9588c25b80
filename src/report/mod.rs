//! Validation reports: Markdown, JSON, JUnit and OpenMetrics.
