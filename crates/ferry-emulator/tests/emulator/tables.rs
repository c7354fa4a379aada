//! `kubectl get` against the emulator prints what it prints against a real cluster: the
//! columns a kube-apiserver's Table answers carry for each built-in kind (the wide ones with
//! `-o wide` only), a CRD's `additionalPrinterColumns` with their priority and `date` columns
//! as ages (one AGE column), and NAME, CREATED AT for kinds without a printer. The expected
//! headers are kubectl's against a 1.24-1.30 kube-apiserver.

use std::time::{Duration, Instant};

use crate::support::emulator;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: tables}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: tables}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.example/web:1.0"}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: tables}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "registry.example/db:2"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: tables}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: agent, image: "registry.example/agent:3"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: tables}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: "registry.example/once:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: tables}
spec:
  containers: [{name: solo, image: "registry.example/solo:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: tables}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: tables}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 443, nodePort: 30443}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: tables}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: tables}
stringData: {token: s3cret}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: tables}
spec:
  hard: {pods: "10", requests.cpu: "1", limits.cpu: "2"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: tables}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
      additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    - name: v2
      served: true
      storage: false
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: tables}
spec: {size: 3, color: blue}
status:
  conditions: [{type: Progressing, status: "False"}, {type: Ready, status: "True"}]
"#;

/// kubectl's table output as its header's columns and each row's cells (cut at the header's
/// column offsets, as kubectl's tab writer aligns them).
fn parse(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let mut starts = Vec::new();
    let mut names = Vec::new();
    let mut i = 0;
    let chars: Vec<char> = header.chars().collect();
    while i < chars.len() {
        if chars[i] != ' ' {
            let start = i;
            // A column ends at two spaces (a single one is inside a name: NODE SELECTOR).
            while i < chars.len()
                && !(chars[i] == ' ' && chars.get(i + 1).is_none_or(|c| *c == ' '))
            {
                i += 1;
            }
            starts.push(start);
            names.push(chars[start..i].iter().collect::<String>());
        } else {
            i += 1;
        }
    }
    let rows = lines
        .map(|l| {
            let l: Vec<char> = l.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    let end = starts.get(n + 1).copied().unwrap_or(l.len()).min(l.len());
                    l.get(*s..end)
                        .map(|c| c.iter().collect::<String>().trim().to_owned())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    (names, rows)
}

fn is_age(s: &str) -> bool {
    let digits = s.trim_end_matches(['s', 'm', 'h', 'd', 'y']);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_alphanumeric())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_the_columns_a_real_server_answers() {
    if !crate::clients::kubectl_available() {
        assert!(
            std::env::var_os("FERRY_SKIP_KUBECTL").is_some(),
            "kubectl is not installed: run ./scripts/test (it installs Debian's kubernetes-client) or set FERRY_SKIP_KUBECTL=1"
        );
        return;
    }
    let emu = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, emu.kubeconfig()).expect("write kubeconfig");
    let kubectl = |args: Vec<String>| {
        let kubeconfig = kubeconfig.clone();
        async move {
            let out = tokio::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&args)
                .output()
                .await
                .expect("kubectl runs");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "kubectl {args:?} failed:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text
        }
    };
    let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).expect("write manifest");
    let mut apply = args("apply --server-side -f");
    apply.push(manifest.to_string_lossy().into_owned());
    kubectl(apply).await;
    let widget = dir.path().join("widget.yaml");
    std::fs::write(&widget, WIDGET).expect("write widget");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut apply = args("apply --server-side -f");
        apply.push(widget.to_string_lossy().into_owned());
        let out = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&apply)
            .output()
            .await
            .expect("kubectl runs");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the CRD is served: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The workload simulator makes them ready.
    loop {
        let ready = kubectl(args(
            "-n tables get deploy web -o jsonpath={.status.readyReplicas}",
        ))
        .await;
        let job = kubectl(args(
            "-n tables get job once -o jsonpath={.status.succeeded}",
        ))
        .await;
        if ready == "2" && job == "1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web ready ({ready}), once done ({job})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // (kubectl args, header, the row of the first object without its AGE, which is checked
    // to be an age)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "get deploy web",
            &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            &["web", "2/2", "2", "2"],
        ),
        (
            "get deploy web -o wide",
            &[
                "NAME",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
            &[
                "web",
                "2/2",
                "2",
                "2",
                "",
                "web",
                "registry.example/web:1.0",
                "app=web",
            ],
        ),
        (
            "get statefulset db",
            &["NAME", "READY", "AGE"],
            &["db", "1/1"],
        ),
        (
            "get daemonset agent",
            &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "NODE SELECTOR",
                "AGE",
            ],
            &["agent", "1", "1", "1", "1", "1", "kubernetes.io/os=linux"],
        ),
        (
            "get job once",
            &["NAME", "COMPLETIONS", "DURATION", "AGE"],
            &["once", "1/1", "0s"],
        ),
        (
            "get pod solo",
            &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            &["solo", "1/1", "Running", "0"],
        ),
        (
            "get pod solo -o wide",
            &[
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED NODE",
                "READINESS GATES",
            ],
            &[
                "solo",
                "1/1",
                "Running",
                "0",
                "",
                "10.244.0.10",
                "<none>",
                "<none>",
                "<none>",
            ],
        ),
        (
            "get svc edge",
            &[
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
            ],
            &["edge", "NodePort", "*", "<none>", "443:30443/TCP"],
        ),
        (
            "get svc web -o wide",
            &[
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
                "SELECTOR",
            ],
            &["web", "ClusterIP", "*", "<none>", "80/TCP", "", "app=web"],
        ),
        (
            "get cm settings",
            &["NAME", "DATA", "AGE"],
            &["settings", "2"],
        ),
        (
            "get secret token",
            &["NAME", "TYPE", "DATA", "AGE"],
            &["token", "Opaque", "1"],
        ),
        (
            "get ns tables",
            &["NAME", "STATUS", "AGE"],
            &["tables", "Active"],
        ),
        (
            "get widgets",
            &["NAME", "SIZE", "READY", "AGE"],
            &["w1", "3", "True"],
        ),
        (
            "get widgets -o wide",
            &["NAME", "SIZE", "COLOR", "READY", "AGE"],
            &["w1", "3", "blue", "True"],
        ),
        ("get widgets.v2.example.com", &["NAME", "AGE"], &["w1"]),
        ("get role reader", &["NAME", "CREATED AT"], &["reader"]),
        (
            "get resourcequota quota",
            &["NAME", "AGE", "REQUEST", "LIMIT"],
            &[
                "quota",
                "",
                "pods: 0/10, requests.cpu: 0/1",
                "limits.cpu: 0/2",
            ],
        ),
    ];
    for (command, header, row) in cases {
        let out = kubectl(args(&format!("-n tables {command}"))).await;
        let (names, rows) = parse(&out);
        assert_eq!(names, *header, "kubectl {command}:\n{out}");
        let got = rows.first().cloned().unwrap_or_default();
        let age_at = names.iter().position(|n| n == "AGE" || n == "CREATED AT");
        for (i, want) in row.iter().enumerate() {
            let cell = got.get(i).map(String::as_str).unwrap_or_default();
            if Some(i) == age_at || *want == "*" {
                assert!(
                    !cell.is_empty(),
                    "kubectl {command}: column {i} set:\n{out}"
                );
                continue;
            }
            assert_eq!(
                cell, *want,
                "kubectl {command}: column {}:\n{out}",
                names[i]
            );
        }
        if let Some(at) = age_at {
            let cell = got.get(at).map(String::as_str).unwrap_or_default();
            assert!(
                if names[at] == "AGE" {
                    is_age(cell)
                } else {
                    cell.contains('T')
                },
                "kubectl {command}: {} is {cell:?}:\n{out}",
                names[at]
            );
        }
    }
}
