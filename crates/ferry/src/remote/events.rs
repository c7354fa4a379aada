//! The event stream (`/api/v1/stream`) as the CLI reads it, and [`Follow`]: the changes of
//! one application, from the stream or else by polling.

use std::time::Duration;

use http_body_util::BodyExt as _;
use serde_json::Value;

use super::Remote;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `change` or `resync`.
    pub event: String,
    pub data: Value,
}

/// The server-sent events of `/api/v1/stream`.
pub struct Events {
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl Events {
    pub(super) fn new(body: hyper::body::Incoming) -> Events {
        Events {
            body,
            buf: Vec::new(),
        }
    }

    /// The next event; `None` once the stream ends or fails.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = take_event(&mut self.buf) {
                return Some(event);
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

/// The first complete event in `buf` (removed from it); comments and empty blocks are
/// skipped.
fn take_event(buf: &mut Vec<u8>) -> Option<Event> {
    loop {
        let text = String::from_utf8_lossy(buf).replace("\r\n", "\n");
        let (block, rest) = text.split_once("\n\n")?;
        let (block, rest) = (block.to_owned(), rest.to_owned());
        *buf = rest.into_bytes();
        let mut event = String::new();
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        if event.is_empty() && data.is_empty() {
            continue;
        }
        let data = serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null);
        return Some(Event {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
        });
    }
}

/// Waits for the next change of one object: an event of the stream naming it (or telling
/// to re-read everything), or, without a stream, a short poll.
pub struct Follow {
    events: Option<Events>,
}

impl Follow {
    pub async fn open(remote: &Remote) -> Follow {
        Follow {
            events: remote.events().await,
        }
    }

    /// Until `kind` `name` changed, or at most `max`.
    pub async fn wait(&mut self, kind: &str, name: &str, max: Duration) {
        let Some(events) = self.events.as_mut() else {
            tokio::time::sleep(max.min(Duration::from_millis(500))).await;
            return;
        };
        let matching = async {
            loop {
                match events.next().await {
                    Some(e) if e.event == "resync" => return true,
                    Some(e) if e.data["kind"] == kind && e.data["name"] == name => return true,
                    Some(_) => continue,
                    None => return false,
                }
            }
        };
        match tokio::time::timeout(max, matching).await {
            Ok(true) | Err(_) => {}
            // The stream ended (the server restarts?): poll from now on.
            Ok(false) => self.events = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_frames_and_comments_are_skipped() {
        let mut buf = b": keep-alive\n\nevent: change\ndata: {\"kind\": \"Application\",".to_vec();
        assert_eq!(take_event(&mut buf), None, "not complete yet");
        buf.extend_from_slice(
            b" \"name\": \"web\", \"type\": \"applied\"}\r\n\r\nevent: resync\ndata: {}\n\n",
        );
        let e = take_event(&mut buf).expect("a change");
        assert_eq!(e.event, "change");
        assert_eq!(e.data["name"], "web");
        assert_eq!(
            take_event(&mut buf).map(|e| e.event).as_deref(),
            Some("resync")
        );
        assert_eq!(take_event(&mut buf), None);
        assert!(buf.is_empty());
    }
}
