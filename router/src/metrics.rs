//! A finished request into its app's metrics ([`paas_metrics::RequestMetrics`]): counted where
//! its router log line is written, from the same fields, with a few relaxed atomic adds.

use paas_metrics::{AppMetrics, Request};

use crate::log::LogLine;

/// Counts `line`'s request in `metrics`: status class, error code, `connect` + `service` as the
/// response time, `bytes` out (bytes in are counted as the request body is read).
pub(crate) fn record(metrics: &AppMetrics, line: &LogLine) {
    let took = line.connect.unwrap_or_default() + line.service.unwrap_or_default();
    metrics.web.record(Request {
        status: line.status,
        // `ErrorCode`'s variants are in `paas_metrics::CODES`' order (test below).
        code: line.code.map(|code| code as usize),
        took,
        bytes_in: 0,
        bytes_out: line.bytes.unwrap_or(0),
    });
}

#[cfg(test)]
mod tests {
    use crate::log::ErrorCode::{self, *};

    #[test]
    fn error_codes_index_the_metrics_codes() {
        let all: [ErrorCode; 9] = [H10, H12, H13, H14, H15, H25, H27, H80, H99];
        for code in all {
            assert_eq!(paas_metrics::CODES[code as usize], code.as_str());
        }
    }
}
