//! Prompts for language-model instruction generation, one template per task family.
//!
//! A prompt has LLark's structure: a system message with the task description, a few
//! few-shot examples (each a user message holding an example clip's metadata as a JSON list and
//! an assistant message holding the expected JSON list of `{"question", "answer"}` pairs), then
//! a user message with the clip's own metadata as a JSON list. The wording is this crate's own;
//! the built-in texts live in `llark-data/prompts/` and can be replaced from files:
//!
//! - `<family>.txt`: the task description of a family (`mir.txt`, `captioning.txt`,
//!   `reasoning.txt`); `{fields}` in it is replaced by the field glossary (`fields.txt`);
//! - `<family>-<dataset>.txt`: a task description for clips whose `dataset` is `<dataset>`
//!   (LLark keeps one prompt per dataset and family);
//! - `fewshot-<family>.json`: the few-shot examples, a JSON list of
//!   `{"metadata": {...}, "pairs": [{"question", "answer"}, ...]}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::metadata::ClipMetadata;
use crate::record::{QaPair, TaskFamily};

const FIELDS: &str = include_str!("../../prompts/fields.txt");

fn builtin_task(family: TaskFamily) -> &'static str {
    match family {
        TaskFamily::Mir => include_str!("../../prompts/mir.txt"),
        TaskFamily::Captioning => include_str!("../../prompts/captioning.txt"),
        TaskFamily::Reasoning => include_str!("../../prompts/reasoning.txt"),
    }
}

fn builtin_examples(family: TaskFamily) -> &'static str {
    match family {
        TaskFamily::Mir => include_str!("../../prompts/fewshot-mir.json"),
        TaskFamily::Captioning => include_str!("../../prompts/fewshot-captioning.json"),
        TaskFamily::Reasoning => include_str!("../../prompts/fewshot-reasoning.json"),
    }
}

/// Errors of loading prompt files.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// A file could not be read.
    #[error("cannot read prompt file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A few-shot file is not a JSON list of examples.
    #[error(
        "few-shot file {path} is not a JSON list of {{\"metadata\", \"pairs\"}} objects: {source}"
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A task description file is blank.
    #[error("prompt file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// One worked example shown to the model before the real clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewShotExample {
    /// An example clip's metadata (as it would be shown for a real clip).
    pub metadata: Value,
    /// The pairs the model should write for it.
    pub pairs: Vec<QaPair>,
}

/// The task description and few-shot examples of one task family.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptTemplate {
    /// The task description (system message); `{fields}` stands for the field glossary.
    pub task: String,
    /// The few-shot examples, in order.
    pub examples: Vec<FewShotExample>,
}

impl PromptTemplate {
    /// The built-in template of a family.
    pub fn builtin(family: TaskFamily) -> PromptTemplate {
        // The built-in examples are checked by this module's tests.
        let examples = serde_json::from_str(builtin_examples(family)).unwrap_or_default();
        PromptTemplate {
            task: builtin_task(family).to_string(),
            examples,
        }
    }

    /// Reads a task description from a text file.
    pub fn read_task(path: impl AsRef<Path>) -> Result<String, PromptError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PromptError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            return Err(PromptError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(text)
    }

    /// Reads few-shot examples from a JSON file.
    pub fn read_examples(path: impl AsRef<Path>) -> Result<Vec<FewShotExample>, PromptError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PromptError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| PromptError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The task description with `{fields}` replaced by the field glossary.
    pub fn system_text(&self) -> String {
        self.task.replace("{fields}", FIELDS.trim_end())
    }
}

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The instructions.
    System,
    /// The requester.
    User,
    /// The model.
    Assistant,
}

/// One message of a chat-completion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    fn new(role: Role, content: String) -> Self {
        ChatMessage { role, content }
    }
}

/// Position of a family in [`TaskFamily::ALL`].
fn family_index(family: TaskFamily) -> usize {
    match family {
        TaskFamily::Captioning => 0,
        TaskFamily::Reasoning => 1,
        TaskFamily::Mir => 2,
    }
}

/// Builds prompts per task family (and, optionally, per dataset).
#[derive(Debug, Clone)]
pub struct PromptBuilder {
    /// One template per family, indexed by [`family_index`].
    families: [PromptTemplate; 3],
    per_dataset: HashMap<(TaskFamily, String), PromptTemplate>,
}

impl Default for PromptBuilder {
    fn default() -> Self {
        PromptBuilder::new()
    }
}

impl PromptBuilder {
    /// A builder with the built-in templates.
    pub fn new() -> Self {
        PromptBuilder {
            families: TaskFamily::ALL.map(PromptTemplate::builtin),
            per_dataset: HashMap::new(),
        }
    }

    /// Replaces a family's template (used for clips without a dataset-specific one).
    pub fn set_template(&mut self, family: TaskFamily, template: PromptTemplate) {
        self.families[family_index(family)] = template;
    }

    /// Registers a template for the clips of one dataset.
    pub fn set_dataset_template(
        &mut self,
        family: TaskFamily,
        dataset: &str,
        template: PromptTemplate,
    ) {
        self.per_dataset
            .insert((family, dataset.to_string()), template);
    }

    /// Replaces templates from the files of a directory, where present: `<family>.txt`,
    /// `fewshot-<family>.json` and `<family>-<dataset>.txt` (a dataset template uses the
    /// family's few-shot examples). Files with other names are ignored.
    pub fn with_dir(mut self, dir: impl AsRef<Path>) -> Result<Self, PromptError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|source| PromptError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut names: Vec<String> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PromptError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        names.sort();
        for family in TaskFamily::ALL {
            let f = family.as_str();
            let mut template = self.template(family, None).clone();
            if names.iter().any(|n| *n == format!("{f}.txt")) {
                template.task = PromptTemplate::read_task(dir.join(format!("{f}.txt")))?;
            }
            if names.iter().any(|n| *n == format!("fewshot-{f}.json")) {
                template.examples =
                    PromptTemplate::read_examples(dir.join(format!("fewshot-{f}.json")))?;
            }
            let prefix = format!("{f}-");
            for name in &names {
                if let Some(dataset) = name
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(".txt"))
                    .filter(|d| !d.is_empty())
                {
                    let dataset_template = PromptTemplate {
                        task: PromptTemplate::read_task(dir.join(name))?,
                        examples: template.examples.clone(),
                    };
                    self.set_dataset_template(family, dataset, dataset_template);
                }
            }
            self.set_template(family, template);
        }
        Ok(self)
    }

    /// The template used for a family and dataset: the dataset's own when registered, else the
    /// family's.
    pub fn template(&self, family: TaskFamily, dataset: Option<&str>) -> &PromptTemplate {
        dataset
            .and_then(|d| self.per_dataset.get(&(family, d.to_string())))
            .unwrap_or(&self.families[family_index(family)])
    }

    /// The chat messages for one clip: system (task), then per few-shot example a user message
    /// (its metadata as a one-element JSON list) and an assistant message (its pairs as a JSON
    /// list), then a user message with the clip's metadata as a one-element JSON list.
    pub fn messages(&self, meta: &ClipMetadata, family: TaskFamily) -> Vec<ChatMessage> {
        let template = self.template(family, meta.dataset.as_deref());
        let mut out = vec![ChatMessage::new(Role::System, template.system_text())];
        for ex in &template.examples {
            out.push(ChatMessage::new(
                Role::User,
                Value::Array(vec![ex.metadata.clone()]).to_string(),
            ));
            out.push(ChatMessage::new(
                Role::Assistant,
                serde_json::to_string(&ex.pairs).unwrap_or_default(),
            ));
        }
        out.push(ChatMessage::new(
            Role::User,
            Value::Array(vec![meta.prompt_value()]).to_string(),
        ));
        out
    }

    /// The same prompt as one text (for models without chat roles, and for reading):
    /// the task, the examples, then the clip's metadata.
    pub fn render_text(&self, meta: &ClipMetadata, family: TaskFamily) -> String {
        let mut text = String::new();
        for m in self.messages(meta, family) {
            let label = match m.role {
                Role::System => "",
                Role::User => "Annotations:\n",
                Role::Assistant => "Conversation:\n",
            };
            text.push_str(label);
            text.push_str(&m.content);
            text.push_str("\n\n");
        }
        text.push_str("Conversation:\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruct::validate::{ValidationReport, Validator};

    #[test]
    fn builtin_examples_parse_and_pass_validation() {
        for family in TaskFamily::ALL {
            let ex: Vec<FewShotExample> = serde_json::from_str(builtin_examples(family)).unwrap();
            assert!(!ex.is_empty(), "{family}");
            let mut report = ValidationReport::default();
            for e in &ex {
                let items = serde_json::to_value(&e.pairs).unwrap();
                let kept =
                    Validator::default().check(items.as_array().unwrap().clone(), &mut report);
                assert_eq!(kept.len(), e.pairs.len(), "{family}: {report}");
            }
            let t = PromptTemplate::builtin(family);
            assert_eq!(t.examples, ex);
            assert!(!t.system_text().contains("{fields}"));
        }
    }
}
