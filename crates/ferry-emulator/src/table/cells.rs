//! The cells of the built-in printers: values read from an object and printed as the
//! kube-apiserver prints them (ages, selectors, ports, readiness, ...), and the cells of the
//! kinds whose rows take more than a line.

use serde_json::{Value, json};

pub(super) fn text(o: &Value, pointer: &str) -> String {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn items<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub(super) fn keys(o: &Value, pointer: &str) -> usize {
    o.pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

pub(super) fn name(o: &Value) -> Value {
    json!(text(o, "/metadata/name"))
}

pub(super) fn or_unset(s: &str) -> String {
    if s.is_empty() {
        "<unset>".to_owned()
    } else {
        s.to_owned()
    }
}

pub(super) fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

pub(super) fn time_at(o: &Value, pointer: &str) -> Option<time::OffsetDateTime> {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(parse_time)
}

pub(super) fn since(t: time::OffsetDateTime) -> String {
    human_duration((time::OffsetDateTime::now_utc() - t).whole_seconds())
}

/// The object's age, `<unknown>` without a creation time.
pub(super) fn age(o: &Value) -> Value {
    json!(time_at(o, "/metadata/creationTimestamp").map_or("<unknown>".to_owned(), since))
}

/// apimachinery's `duration.HumanDuration`: two significant units while they say more.
pub(super) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Container names and images, comma-separated.
pub(super) fn containers(o: &Value, pointer: &str) -> (String, String) {
    let list = items(o, pointer);
    let field = |k: &str| {
        list.iter()
            .map(|c| c.get(k).and_then(Value::as_str).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    };
    (field("name"), field("image"))
}

/// `labels.FormatLabels`: `k=v` sorted by key, `<none>` when empty.
pub(super) fn labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A label selector as `metav1.LabelSelectorAsSelector(...).String()` prints it:
/// requirements sorted by key, `<none>` for a missing one.
pub(super) fn label_selector(selector: Option<&Value>) -> String {
    let Some(s) = selector.filter(|s| !s.is_null()) else {
        return "<none>".into();
    };
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(m) = s.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in s
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let values = values.join(",");
        let part = match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key.to_owned(), part));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(",")
}

/// At most three items, then `+ N more...`; `empty` when there are none.
pub(super) fn at_most_three(list: &[String], empty: &str) -> String {
    if list.is_empty() {
        return empty.to_owned();
    }
    let shown = list.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if list.len() > 3 {
        format!("{shown} + {} more...", list.len() - 3)
    } else {
        shown
    }
}

pub(super) fn storage_class(o: &Value) -> String {
    let annotated = text(
        o,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    );
    if !annotated.is_empty() {
        return annotated;
    }
    text(o, "/spec/storageClassName")
}

pub(super) fn access_modes(o: &Value, pointer: &str) -> String {
    let modes: Vec<&str> = items(o, pointer).iter().filter_map(Value::as_str).collect();
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.contains(&mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// A load balancer's ingress points (IPs, else host names), comma-separated.
pub(super) fn load_balancer(o: &Value) -> String {
    items(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i.get("ip")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .or_else(|| i.get("hostname").and_then(Value::as_str))
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn service(o: &Value) -> Vec<Value> {
    let kind = text(o, "/spec/type");
    let cluster_ip = items(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| "<none>".to_owned());
    let external: Vec<&str> = items(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external_ip = match kind.as_str() {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let lb = load_balancer(o);
            let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
            all.extend(&external);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(o, "/spec/externalName"),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = items(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0) {
                Some(node) => format!("{port}:{node}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    vec![
        name(o),
        json!(kind),
        json!(cluster_ip),
        json!(external_ip),
        json!(ports),
        age(o),
        json!(labels(o.pointer("/spec/selector"))),
    ]
}

pub(super) fn endpoints(o: &Value) -> String {
    let mut list = Vec::new();
    let mut count = 0;
    for subset in items(o, "/subsets") {
        let addresses: Vec<&str> = subset
            .get("addresses")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("ip").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .map(|p| {
                p.iter()
                    .filter_map(|x| x.get("port").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        if ports.is_empty() {
            for ip in &addresses {
                if list.len() < 3 {
                    list.push((*ip).to_owned());
                }
                count += 1;
            }
        } else {
            for port in &ports {
                for ip in &addresses {
                    if list.len() < 3 {
                        list.push(if ip.contains(':') {
                            format!("[{ip}]:{port}")
                        } else {
                            format!("{ip}:{port}")
                        });
                    }
                    count += 1;
                }
            }
        }
    }
    if count == 0 {
        return "<none>".to_owned();
    }
    let shown = list.join(",");
    if count > 3 {
        format!("{shown} + {} more...", count - 3)
    } else {
        shown
    }
}

pub(super) fn pod(o: &Value) -> Vec<Value> {
    let total = items(o, "/spec/containers").len();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<time::OffsetDateTime> = None;
    let mut reason = text(o, "/status/phase");
    if !text(o, "/status/reason").is_empty() {
        reason = text(o, "/status/reason");
    }
    let note_restart = |c: &Value, last: &mut Option<time::OffsetDateTime>| {
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
            && last.is_none_or(|l| l < t)
        {
            *last = Some(t);
        }
    };
    let init_total = items(o, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, c) in items(o, "/status/initContainerStatuses").iter().enumerate() {
        restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        note_restart(c, &mut last_restart);
        let terminated = c.pointer("/state/terminated");
        let exit = terminated
            .and_then(|t| t.get("exitCode"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let waiting_reason = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if terminated.is_some() && exit == 0 {
            continue;
        }
        reason = if let Some(t) = terminated {
            let r = t.get("reason").and_then(Value::as_str).unwrap_or_default();
            let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
            match (r.is_empty(), signal) {
                (false, _) => format!("Init:{r}"),
                (true, 0) => format!("Init:ExitCode:{exit}"),
                (true, s) => format!("Init:Signal:{s}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{init_total}")
        };
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut running = false;
        for c in items(o, "/status/containerStatuses").iter().rev() {
            restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            note_restart(c, &mut last_restart);
            let waiting = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let terminated = c.pointer("/state/terminated");
            let terminated_reason = terminated
                .and_then(|t| t.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if !terminated_reason.is_empty() {
                reason = terminated_reason.to_owned();
            } else if let Some(t) = terminated {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                let exit = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
                reason = if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!("ExitCode:{exit}")
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some()
            {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            let pod_ready = items(o, "/status/conditions").iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            });
            reason = if pod_ready { "Running" } else { "NotReady" }.to_owned();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if text(o, "/status/reason") == "NodeLost" {
            "Unknown".to_owned()
        } else {
            "Terminating".to_owned()
        };
    }
    let restarts = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", since(t)),
        None => restarts.to_string(),
    };
    let none = |s: String| if s.is_empty() { "<none>".to_owned() } else { s };
    // The kubelet sets both; the printer reads `podIPs`, a status with only `podIP` (as
    // older kubelets and the workload simulator write) shows that one.
    let ip = items(o, "/status/podIPs")
        .first()
        .and_then(|p| p.get("ip"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| text(o, "/status/podIP"));
    let gates = items(o, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = items(o, "/status/conditions");
        let true_ = gates
            .iter()
            .filter(|g| {
                let t = g.get("conditionType").and_then(Value::as_str);
                conditions.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == t
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
            .count();
        format!("{true_}/{}", gates.len())
    };
    vec![
        name(o),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age(o),
        json!(none(ip)),
        json!(none(text(o, "/spec/nodeName"))),
        json!(none(text(o, "/status/nominatedNodeName"))),
        json!(gates),
    ]
}

pub(super) fn job(o: &Value) -> Vec<Value> {
    let succeeded = int_at(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match o.pointer("/spec/parallelism").and_then(Value::as_i64) {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(o, "/status/startTime"),
        time_at(o, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => since(start),
        (Some(start), Some(end)) => human_duration((end - start).whole_seconds()),
    };
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        name(o),
        json!(completions),
        json!(duration),
        age(o),
        json!(names),
        json!(images),
        json!(label_selector(o.pointer("/spec/selector"))),
    ]
}

pub(super) fn node(o: &Value) -> Vec<Value> {
    let conditions = items(o, "/status/conditions");
    let mut status: Vec<String> = conditions
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .map(|c| match c.get("status").and_then(Value::as_str) {
            Some("True") => "Ready".to_owned(),
            _ => "NotReady".to_owned(),
        })
        .collect();
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        Some(role.to_owned())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_owned)
                    } else {
                        None
                    }
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    };
    let address = |kind: &str| {
        items(o, "/status/addresses")
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    let info = |k: &str| {
        let v = text(o, &format!("/status/nodeInfo/{k}"));
        if v.is_empty() {
            "<unknown>".to_owned()
        } else {
            v
        }
    };
    vec![
        name(o),
        json!(status.join(",")),
        json!(roles),
        age(o),
        json!(text(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

pub(super) fn event(o: &Value) -> Vec<Value> {
    // core/v1 and events.k8s.io/v1 name the same things differently.
    let first = |paths: &[&str]| {
        paths
            .iter()
            .map(|p| text(o, p))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    };
    let regarding = o
        .get("involvedObject")
        .or_else(|| o.get("regarding"))
        .cloned()
        .unwrap_or(Value::Null);
    let object = format!(
        "{}/{}",
        regarding["kind"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase(),
        regarding["name"].as_str().unwrap_or_default()
    );
    let last = first(&[
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
    ]);
    let first_seen = first(&["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"]);
    let ago = |s: &str| parse_time(s).map_or("<unknown>".to_owned(), since);
    let source = first(&["/source/component", "/reportingController"]);
    let count = o
        .get("count")
        .or_else(|| o.pointer("/series/count"))
        .and_then(Value::as_i64)
        .unwrap_or(1);
    vec![
        json!(ago(&last)),
        json!(text(o, "/type")),
        json!(text(o, "/reason")),
        json!(object),
        json!(regarding["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        json!(first(&["/message", "/note"]).trim().to_owned()),
        json!(ago(&first_seen)),
        json!(count.to_string()),
        name(o),
    ]
}

pub(super) fn hpa(o: &Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(o, "/spec/scaleTargetRef/kind"),
        text(o, "/spec/scaleTargetRef/name")
    );
    // autoscaling/v1's single target, or v2's resource metrics as utilization.
    let mut targets: Vec<String> = Vec::new();
    if let Some(t) = o
        .pointer("/spec/targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        let current = o
            .pointer("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_owned(), |c| format!("{c}%"));
        targets.push(format!("{current}/{t}%"));
    }
    for (i, m) in items(o, "/spec/metrics").iter().enumerate() {
        let Some(t) = m
            .pointer("/resource/target/averageUtilization")
            .and_then(Value::as_i64)
        else {
            continue;
        };
        let current = o
            .pointer(&format!(
                "/status/currentMetrics/{i}/resource/current/averageUtilization"
            ))
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_owned(), |c| format!("{c}%"));
        let resource = m
            .pointer("/resource/name")
            .and_then(Value::as_str)
            .unwrap_or("cpu");
        targets.push(format!("{resource}: {current}/{t}%"));
    }
    let targets = if targets.is_empty() {
        "<none>".to_owned()
    } else if targets.len() > 2 {
        format!(
            "{} + {} more...",
            targets[..2].join(", "),
            targets.len() - 2
        )
    } else {
        targets.join(", ")
    };
    let min = o
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or("<unset>".to_owned(), |m| m.to_string());
    vec![
        name(o),
        json!(reference),
        json!(targets),
        json!(min),
        json!(int_at(o, "/spec/maxReplicas").to_string()),
        json!(int_at(o, "/status/currentReplicas").to_string()),
        age(o),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 24 * 3600, "8d"),
            (2 * 365 * 24 * 3600, "2y"),
            (2 * 365 * 24 * 3600 + 24 * 3600, "2y1d"),
            (9 * 365 * 24 * 3600, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn selectors_and_labels_print_as_the_server_prints_them() {
        let s = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(label_selector(Some(&s)), "a=1,b=2,!gone,tier in (api,web)");
        assert_eq!(label_selector(None), "<none>");
        assert_eq!(labels(Some(&json!({"z": "1", "a": "2"}))), "a=2,z=1");
        assert_eq!(labels(Some(&json!({}))), "<none>");
    }

    #[test]
    fn a_service_shows_its_type_addresses_and_ports() {
        let svc = json!({"metadata": {"name": "web"},
            "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.7"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        let cells = service(&svc);
        assert_eq!(
            cells[1..5],
            [
                json!("NodePort"),
                json!("10.96.0.7"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP")
            ]
        );
        assert_eq!(cells[6], json!("app=web"));
        let lb = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.1"]}});
        assert_eq!(service(&lb)[3], json!("<pending>"));
    }

    #[test]
    fn a_pod_shows_readiness_status_and_restarts() {
        let p = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let cells = pod(&p);
        assert_eq!(
            cells[1..4],
            [json!("1/2"), json!("CrashLoopBackOff"), json!("3")]
        );
        let init = json!({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i", "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(pod(&init)[2], json!("Init:0/1"));
    }

    #[test]
    fn a_job_shows_completions_and_duration() {
        let j = json!({"metadata": {"name": "j"}, "spec": {"completions": 3},
            "status": {"succeeded": 2, "startTime": "2024-01-01T00:00:00Z",
                "completionTime": "2024-01-01T00:02:05Z"}});
        let cells = job(&j);
        assert_eq!(cells[1..3], [json!("2/3"), json!("2m5s")]);
        let parallel = json!({"spec": {"parallelism": 4}, "status": {}});
        assert_eq!(job(&parallel)[1..3], [json!("0/1 of 4"), json!("")]);
    }
}
