//! The `ConfigManagementPlugin` file (Argo CD's `plugin.yaml`), parsed as Argo CD's
//! `cmpserver/plugin/config.go` reads it: `kind` must be `ConfigManagementPlugin`,
//! `metadata.name` and `spec.generate.command` must be non-empty, unknown fields are ignored
//! (`allowConcurrency`, `lockRepo`), `null` counts as absent, and a field of the wrong type is
//! an error naming the field. The YAML is read with the crate's own parser (`sigs.k8s.io/yaml`
//! rules), so `version: 1.0` is a number and refused, as Argo CD refuses it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::PluginError;
use crate::yaml::{self, AliasBudget, StreamError};

/// The kind a plugin configuration file must declare.
const KIND: &str = "ConfigManagementPlugin";

/// Largest plugin configuration file read, in bytes.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A command and its arguments, as in `spec.init`, `spec.generate`,
/// `spec.discover.find` and `spec.parameters.dynamic`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PluginCommand {
    /// `command`: the program and its first arguments.
    pub command: Vec<String>,
    /// `args`: appended to `command`.
    pub args: Vec<String>,
}

impl PluginCommand {
    /// `command` followed by `args`, as Argo CD runs it (no shell unless the command is one).
    pub fn argv(&self) -> impl Iterator<Item = &String> {
        self.command.iter().chain(self.args.iter())
    }

    /// Whether there is no command to run (Argo CD skips such an `init`).
    pub fn is_empty(&self) -> bool {
        self.command.is_empty()
    }
}

/// `spec.discover`: how a plugin recognises a source when the Application names no plugin.
/// Only the first configured rule counts, in this order: `fileName`, `find.glob`,
/// `find.command`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Discover {
    /// `fileName`: a Go `filepath.Glob` pattern relative to the source path.
    pub file_name: Option<String>,
    /// `find.glob`: like `fileName`, with `**` for any number of directories.
    pub find_glob: Option<String>,
    /// `find.command` (+ `find.args`): run in the source path of a copy of the repository; it
    /// matches when it exits 0 and prints something.
    pub find_command: Option<PluginCommand>,
}

impl Discover {
    /// Whether any rule is configured (a plugin without one is only used when named).
    pub fn is_configured(&self) -> bool {
        self.file_name.is_some() || self.find_glob.is_some() || self.find_command.is_some()
    }
}

/// One entry of `spec.parameters.static`: a parameter announced to a UI. Its values are
/// only defaults to display; Argo CD never passes them to the plugin, and neither does Ferry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ParameterAnnouncement {
    /// `name`.
    pub name: String,
    /// `title`.
    pub title: Option<String>,
    /// `tooltip`.
    pub tooltip: Option<String>,
    /// `required`.
    pub required: bool,
    /// `itemType` (`string` when unset).
    pub item_type: Option<String>,
    /// `collectionType`: `string`, `array` or `map` (`string` when unset).
    pub collection_type: Option<String>,
    /// `string`: the default shown for a string parameter.
    pub string: Option<String>,
    /// `array`: the default shown for an array parameter.
    pub array: Option<Vec<String>>,
    /// `map`: the default shown for a map parameter.
    pub map: Option<BTreeMap<String, String>>,
}

/// A parsed `ConfigManagementPlugin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// `metadata.name`.
    pub name: String,
    /// `spec.version`; when set, Applications name the plugin `<name>-<version>`.
    pub version: Option<String>,
    /// `spec.init`, run before `generate`; its output is discarded.
    pub init: Option<PluginCommand>,
    /// `spec.generate`: prints the manifests.
    pub generate: PluginCommand,
    /// `spec.discover`.
    pub discover: Discover,
    /// `spec.parameters.static` (UI announcements only).
    pub static_parameters: Vec<ParameterAnnouncement>,
    /// `spec.parameters.dynamic` (UI announcements only; Ferry does not run it).
    pub dynamic_parameters: Option<PluginCommand>,
    /// `spec.preserveFileMode`: the copy keeps the repository's file modes (executable bits)
    /// instead of making every file `0644`.
    pub preserve_file_mode: bool,
    /// `spec.provideGitCreds`: parsed but not honoured; Ferry never hands git credentials to
    /// a plugin.
    pub provide_git_creds: bool,
    /// Where the spec came from (a file path), for messages.
    pub origin: String,
    /// `sha256:<hex>` of the configuration text.
    digest: String,
}

impl PluginSpec {
    /// Parses one `ConfigManagementPlugin` document; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<PluginSpec, PluginError> {
        let invalid = |message: String| PluginError::InvalidSpec {
            origin: origin.to_string(),
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut budget = AliasBudget {
            remaining: 100_000,
            limit: 100_000,
        };
        let mut documents = Vec::new();
        yaml::for_each_document(text, &mut budget, |_, value| {
            if !value.is_null() {
                documents.push(value);
            }
            Ok::<(), ()>(())
        })
        .map_err(|err| match err {
            StreamError::Yaml { document, error } => invalid(format!(
                "document {document}, line {}, column {}: {}",
                error.line, error.column, error.message
            )),
            StreamError::Stopped(()) => invalid("unreadable".to_string()),
        })?;
        let mut documents = documents.into_iter();
        let root = match (documents.next(), documents.next()) {
            (Some(root), None) => root,
            (None, _) => return Err(invalid("the file is empty".to_string())),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "holds more than one document; write one ConfigManagementPlugin per file"
                        .to_string(),
                ));
            }
        };
        let fields = Fields { invalid: &invalid };
        let root = fields.object(&root, "")?;
        let kind = fields.string(root, "", "kind")?.unwrap_or_default();
        if kind != KIND {
            return Err(invalid(format!("kind must be {KIND}, found {kind:?}")));
        }
        let metadata = fields.object_field(root, "", "metadata")?;
        let name = match metadata {
            Some(metadata) => fields.string(metadata, "metadata", "name")?,
            None => None,
        };
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(invalid("metadata.name must be non-empty".to_string()));
        };
        let empty = Map::new();
        let spec = fields.object_field(root, "", "spec")?.unwrap_or(&empty);
        let version = fields
            .string(spec, "spec", "version")?
            .filter(|v| !v.is_empty());
        let init = fields
            .command(spec, "spec", "init")?
            .filter(|c| !c.is_empty());
        let generate = fields
            .command(spec, "spec", "generate")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid("spec.generate.command must be non-empty".to_string()))?;
        let discover = match fields.object_field(spec, "spec", "discover")? {
            None => Discover::default(),
            Some(discover) => {
                let file_name = fields
                    .string(discover, "spec.discover", "fileName")?
                    .filter(|s| !s.is_empty());
                let (find_glob, find_command) =
                    match fields.object_field(discover, "spec.discover", "find")? {
                        None => (None, None),
                        Some(find) => (
                            fields
                                .string(find, "spec.discover.find", "glob")?
                                .filter(|s| !s.is_empty()),
                            fields
                                .command_fields(find, "spec.discover.find")?
                                .filter(|c| !c.is_empty()),
                        ),
                    };
                Discover {
                    file_name,
                    find_glob,
                    find_command,
                }
            }
        };
        let (static_parameters, dynamic_parameters) =
            match fields.object_field(spec, "spec", "parameters")? {
                None => (Vec::new(), None),
                Some(parameters) => (
                    fields.announcements(parameters)?,
                    fields
                        .command(parameters, "spec.parameters", "dynamic")?
                        .filter(|c| !c.is_empty()),
                ),
            };
        let preserve_file_mode = fields
            .bool(spec, "spec", "preserveFileMode")?
            .unwrap_or(false);
        let provide_git_creds = fields
            .bool(spec, "spec", "provideGitCreds")?
            .unwrap_or(false);
        Ok(PluginSpec {
            name,
            version,
            init,
            generate,
            discover,
            static_parameters,
            dynamic_parameters,
            preserve_file_mode,
            provide_git_creds,
            origin: origin.to_string(),
            digest: digest(text),
        })
    }

    /// The name an Application uses for this plugin in `spec.source.plugin.name`:
    /// `<metadata.name>-<spec.version>` when a version is set, else `<metadata.name>`.
    pub fn full_name(&self) -> String {
        match &self.version {
            Some(version) => format!("{}-{version}", self.name),
            None => self.name.clone(),
        }
    }

    /// `sha256:<hex>` of the configuration text: changes whenever the file does.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

fn digest(text: &str) -> String {
    let mut out = String::from("sha256:");
    for byte in Sha256::digest(text.as_bytes()).iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Reads the plugin configurations in `dir`: every `*.yaml` and `*.yml` file directly in it,
/// and `plugin.yaml` in each subdirectory (the layout of Argo CD sidecars' mounted configs).
/// Names starting with `.` are skipped (a mounted ConfigMap's `..data` and timestamped
/// directories). Files are read in name order, and the plugins returned in Argo CD's
/// discovery order (its sidecars' socket file names, `<name>[-<version>].sock`, sorted).
/// Two files defining the same plugin name are an error.
pub fn load_plugins(dir: &Path) -> Result<Vec<PluginSpec>, PluginError> {
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| PluginError::ConfigIo { path, source }
    };
    let mut names = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(dir))?;
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let text = name.to_string_lossy();
        if text.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        if meta.is_file() && (text.ends_with(".yaml") || text.ends_with(".yml")) {
            files.push(path);
        } else if meta.is_dir() {
            let nested = path.join("plugin.yaml");
            if fs::metadata(&nested).is_ok_and(|m| m.is_file()) {
                files.push(nested);
            }
        }
    }
    let mut plugins: Vec<PluginSpec> = Vec::new();
    for path in files {
        let origin = path.display().to_string();
        let mut text = String::new();
        use std::io::Read as _;
        fs::File::open(&path)
            .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
            .map_err(io_err(&path))?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(PluginError::InvalidSpec {
                origin,
                message: format!("larger than {MAX_CONFIG_BYTES} bytes"),
            });
        }
        let spec = PluginSpec::from_yaml(&text, &origin)?;
        if let Some(other) = plugins.iter().find(|p| p.full_name() == spec.full_name()) {
            return Err(PluginError::DuplicateName {
                name: spec.full_name(),
                first: other.origin.clone(),
                second: origin,
            });
        }
        plugins.push(spec);
    }
    plugins.sort_by_key(|p| format!("{}.sock", p.full_name()));
    Ok(plugins)
}

// === Field access with errors that name the field ===

struct Fields<'f, F: Fn(String) -> PluginError> {
    invalid: &'f F,
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<F: Fn(String) -> PluginError> Fields<'_, F> {
    fn wrong(&self, at: &str, expected: &str, found: &Value) -> PluginError {
        let at = if at.is_empty() { "the document" } else { at };
        let hint = if expected == "a string" && matches!(found, Value::Number(_) | Value::Bool(_)) {
            " (quote it)"
        } else {
            ""
        };
        (self.invalid)(format!(
            "{at} must be {expected}, found {}{hint}",
            describe(found)
        ))
    }

    fn object<'v>(
        &self,
        value: &'v Value,
        at: &str,
    ) -> Result<&'v Map<String, Value>, PluginError> {
        value
            .as_object()
            .ok_or_else(|| self.wrong(at, "a mapping", value))
    }

    fn present<'v>(&self, obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    fn object_field<'v>(
        &self,
        obj: &'v Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<&'v Map<String, Value>>, PluginError> {
        self.present(obj, key)
            .map(|v| self.object(v, &path(parent, key)))
            .transpose()
    }

    fn string(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<String>, PluginError> {
        match self.present(obj, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(&path(parent, key), "a string", other)),
        }
    }

    fn bool(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<bool>, PluginError> {
        match self.present(obj, key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(&path(parent, key), "true or false", other)),
        }
    }

    fn strings(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<Vec<String>>, PluginError> {
        let at = path(parent, key);
        match self.present(obj, key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(&format!("{at}[{i}]"), "a string", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.wrong(&at, "a list of strings", other)),
        }
    }

    fn string_map(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<BTreeMap<String, String>>, PluginError> {
        let at = path(parent, key);
        let Some(map) = self.object_field(obj, parent, key)? else {
            return Ok(None);
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(self.wrong(&format!("{at}.{k}"), "a string", other)),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Some)
    }

    /// `command` and `args` of the mapping at `at`.
    fn command_fields(
        &self,
        obj: &Map<String, Value>,
        at: &str,
    ) -> Result<Option<PluginCommand>, PluginError> {
        let command = self.strings(obj, at, "command")?.unwrap_or_default();
        let args = self.strings(obj, at, "args")?.unwrap_or_default();
        Ok(Some(PluginCommand { command, args }))
    }

    fn command(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Result<Option<PluginCommand>, PluginError> {
        match self.object_field(obj, parent, key)? {
            None => Ok(None),
            Some(inner) => self.command_fields(inner, &path(parent, key)),
        }
    }

    fn announcements(
        &self,
        parameters: &Map<String, Value>,
    ) -> Result<Vec<ParameterAnnouncement>, PluginError> {
        let Some(list) = self.present(parameters, "static") else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = list else {
            return Err(self.wrong("spec.parameters.static", "a list", list));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("spec.parameters.static[{i}]");
                let obj = self.object(item, &at)?;
                Ok(ParameterAnnouncement {
                    name: self.string(obj, &at, "name")?.unwrap_or_default(),
                    title: self.string(obj, &at, "title")?,
                    tooltip: self.string(obj, &at, "tooltip")?,
                    required: self.bool(obj, &at, "required")?.unwrap_or(false),
                    item_type: self.string(obj, &at, "itemType")?,
                    collection_type: self.string(obj, &at, "collectionType")?,
                    string: self.string(obj, &at, "string")?,
                    array: self.strings(obj, &at, "array")?,
                    map: self.string_map(obj, &at, "map")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: my-plugin
spec:
  version: v1.0
  init:
    command: [sh]
    args: [-c, 'echo "Initializing..."']
  generate:
    command: [sh, -c]
    args:
      - |
        echo '{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}}'
  discover:
    fileName: "./subdir/s*.yaml"
    find:
      glob: "**/Chart.yaml"
      command: [sh, -c, find . -name env.yaml]
  parameters:
    static:
      - name: string-param
        title: Description of the string param
        required: false
        string: default-string-value
      - name: map-param
        map:
          some: value
        collectionType: map
    dynamic:
      command: [echo, '[{"name": "example-param", "string": "default-string-value"}]']
  preserveFileMode: false
  provideGitCreds: false
  lockRepo: true
"#;

    #[test]
    fn the_documented_example_parses() {
        let spec = PluginSpec::from_yaml(FULL, "plugin.yaml").expect("valid");
        assert_eq!(spec.full_name(), "my-plugin-v1.0");
        assert_eq!(
            spec.init
                .as_ref()
                .map(|c| c.argv().cloned().collect::<Vec<_>>()),
            Some(vec![
                "sh".to_string(),
                "-c".to_string(),
                "echo \"Initializing...\"".to_string()
            ])
        );
        assert_eq!(spec.generate.command, vec!["sh", "-c"]);
        assert_eq!(spec.discover.file_name.as_deref(), Some("./subdir/s*.yaml"));
        assert_eq!(spec.discover.find_glob.as_deref(), Some("**/Chart.yaml"));
        assert_eq!(
            spec.discover.find_command.as_ref().map(|c| c.command.len()),
            Some(3)
        );
        assert_eq!(spec.static_parameters.len(), 2);
        assert_eq!(
            spec.static_parameters[1]
                .map
                .as_ref()
                .and_then(|m| m.get("some")),
            Some(&"value".to_string())
        );
        assert!(spec.dynamic_parameters.is_some());
        assert!(spec.digest().starts_with("sha256:"));
    }

    fn error(text: &str) -> String {
        PluginSpec::from_yaml(text, "/etc/ferry/plugins/p.yaml")
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let e = error("kind: ConfigManagementPlugin\nmetadata: {name: p}\nspec: {}\n");
        assert!(e.contains("/etc/ferry/plugins/p.yaml"), "{e}");
        assert!(e.contains("spec.generate.command must be non-empty"), "{e}");
        let e = error("kind: Plugin\nmetadata: {name: p}\n");
        assert!(e.contains("kind must be ConfigManagementPlugin"), "{e}");
        let e = error("kind: ConfigManagementPlugin\nspec: {generate: {command: [a]}}\n");
        assert!(e.contains("metadata.name must be non-empty"), "{e}");
        let e = error(
            "kind: ConfigManagementPlugin\nmetadata: {name: p}\nspec: {version: 1.0, generate: {command: [a]}}\n",
        );
        assert!(
            e.contains("spec.version must be a string, found a number (quote it)"),
            "{e}"
        );
        let e = error(
            "kind: ConfigManagementPlugin\nmetadata: {name: p}\nspec: {generate: {command: sh}}\n",
        );
        assert!(
            e.contains("spec.generate.command must be a list of strings"),
            "{e}"
        );
        let e = error("kind: ConfigManagementPlugin\nmetadata: {name: [p\n");
        assert!(e.contains("line"), "{e}");
    }
}
