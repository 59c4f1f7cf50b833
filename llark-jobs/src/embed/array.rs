//! Job arrays: which shard a process of a Slurm job array or of a Kubernetes Indexed Job is,
//! read from the variables the scheduler sets for it.
//!
//! - Slurm (`sbatch --array=MIN-MAX`): the shard is `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`
//!   of `SLURM_ARRAY_TASK_COUNT`. The task ids must be consecutive (`--array=0-99`, with or
//!   without a `%limit`); an array with a step or a list of ids is refused, since some shard
//!   would have no task.
//! - Kubernetes (`completionMode: Indexed`): the shard is `JOB_COMPLETION_INDEX` of a count
//!   given as a flag or in [`SHARD_COUNT_VAR`] (Kubernetes does not tell a pod the Job's
//!   `completions`).

use std::fmt;
use std::str::FromStr;

use super::corpus::Shard;
use crate::error::{JobError, Result};

/// The variable that gives the shard count to the pods of a Kubernetes Indexed Job.
pub const SHARD_COUNT_VAR: &str = "LLARK_SHARD_COUNT";

/// Which part of the corpus a process encodes: a given shard, or the one its scheduler says.
/// Written and parsed as `index/count` or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// This shard.
    Fixed(Shard),
    /// The shard of this task of a Slurm job array or pod of a Kubernetes Indexed Job.
    Auto,
}

impl ShardSpec {
    /// The shard, reading the process's environment for [`ShardSpec::Auto`]; `count` is the
    /// shard count for a Kubernetes Indexed Job (otherwise taken from [`SHARD_COUNT_VAR`]),
    /// and for Slurm it must agree with the array's, if given.
    pub fn resolve(self, count: Option<usize>) -> Result<Shard> {
        match self {
            ShardSpec::Fixed(shard) => Ok(shard),
            ShardSpec::Auto => Shard::from_scheduler(|name| std::env::var(name).ok(), count),
        }
    }
}

impl Default for ShardSpec {
    fn default() -> Self {
        ShardSpec::Fixed(Shard::ALL)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardSpec::Fixed(shard) => shard.fmt(f),
            ShardSpec::Auto => f.write_str("auto"),
        }
    }
}

impl FromStr for ShardSpec {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case("auto") {
            Ok(ShardSpec::Auto)
        } else {
            s.parse().map(ShardSpec::Fixed)
        }
    }
}

impl Shard {
    /// The shard a scheduler assigned, from the variables `var` gives (see the module's
    /// documentation): Slurm's array variables if `SLURM_ARRAY_TASK_ID` is set, else
    /// Kubernetes' `JOB_COMPLETION_INDEX` with `count` or [`SHARD_COUNT_VAR`].
    pub fn from_scheduler(
        var: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Shard> {
        let number = |name: &str| -> Result<Option<usize>> {
            var(name)
                .map(|text| {
                    text.trim().parse().map_err(|_| {
                        scheduler_error(name, format!("`{text}` is not a non-negative integer"))
                    })
                })
                .transpose()
        };
        let required = |name: &str| {
            number(name)?.ok_or_else(|| scheduler_error(name, "is not set".to_owned()))
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = required("SLURM_ARRAY_TASK_MIN")?;
            let tasks = required("SLURM_ARRAY_TASK_COUNT")?;
            if let Some(step) = number("SLURM_ARRAY_TASK_STEP")?.filter(|&step| step != 1) {
                return Err(scheduler_error(
                    "SLURM_ARRAY_TASK_STEP",
                    format!(
                        "is {step}: the array's task ids must be consecutive (--array=MIN-MAX)"
                    ),
                ));
            }
            if let Some(max) = number("SLURM_ARRAY_TASK_MAX")? {
                if max < min || max - min + 1 != tasks {
                    return Err(scheduler_error(
                        "SLURM_ARRAY_TASK_MAX",
                        format!(
                            "is {max}: with SLURM_ARRAY_TASK_MIN {min} that is not the array's \
                             {tasks} tasks, whose ids must be consecutive (--array=MIN-MAX)"
                        ),
                    ));
                }
            }
            if id < min {
                return Err(scheduler_error(
                    "SLURM_ARRAY_TASK_ID",
                    format!("{id} is below SLURM_ARRAY_TASK_MIN {min}"),
                ));
            }
            if let Some(count) = count.filter(|&count| count != tasks) {
                return Err(scheduler_error(
                    "SLURM_ARRAY_TASK_COUNT",
                    format!("is {tasks} but the shard count given is {count}"),
                ));
            }
            return Shard::new(id - min, tasks);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = match count {
                Some(count) => count,
                None => number(SHARD_COUNT_VAR)?.ok_or_else(|| {
                    scheduler_error(
                        SHARD_COUNT_VAR,
                        "is not set: give the Indexed Job's `completions` as the shard count \
                         (--shard-count N or this variable)"
                            .to_owned(),
                    )
                })?,
            };
            return Shard::new(index, count);
        }
        Err(scheduler_error(
            "SLURM_ARRAY_TASK_ID",
            "is not set, nor is JOB_COMPLETION_INDEX: --shard auto runs as a task of a Slurm job \
             array or a pod of a Kubernetes Indexed Job (give --shard INDEX/COUNT elsewhere)"
                .to_owned(),
        ))
    }
}

fn scheduler_error(variable: &str, problem: String) -> JobError {
    JobError::ShardEnvironment {
        variable: variable.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(vars: &[(&str, &str)], count: Option<usize>) -> Result<Shard> {
        Shard::from_scheduler(
            |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            },
            count,
        )
    }

    #[test]
    fn slurm_arrays_are_read_from_their_minimum() {
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "8"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(shard(&vars, None).unwrap(), Shard::new(2, 4).unwrap());
        assert_eq!(shard(&vars, Some(4)).unwrap(), Shard::new(2, 4).unwrap());
        let error = shard(&vars, Some(3)).unwrap_err().to_string();
        assert!(error.contains("SLURM_ARRAY_TASK_COUNT"), "{error}");
    }

    #[test]
    fn slurm_arrays_with_gaps_are_refused() {
        let listed = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        let error = shard(&listed, None).unwrap_err().to_string();
        assert!(error.contains("SLURM_ARRAY_TASK_MAX"), "{error}");
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        let error = shard(&stepped, None).unwrap_err().to_string();
        assert!(error.contains("SLURM_ARRAY_TASK_STEP"), "{error}");
        let no_min = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        let error = shard(&no_min, None).unwrap_err().to_string();
        assert!(error.contains("SLURM_ARRAY_TASK_MIN is not set"), "{error}");
    }

    #[test]
    fn kubernetes_indexed_jobs_need_a_count() {
        let vars = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(shard(&vars, Some(8)).unwrap(), Shard::new(3, 8).unwrap());
        let error = shard(&vars, None).unwrap_err().to_string();
        assert!(error.contains(SHARD_COUNT_VAR), "{error}");
        let with_var = [("JOB_COMPLETION_INDEX", "3"), (SHARD_COUNT_VAR, "4")];
        assert_eq!(shard(&with_var, None).unwrap(), Shard::new(3, 4).unwrap());
        let beyond = [("JOB_COMPLETION_INDEX", "4"), (SHARD_COUNT_VAR, "4")];
        assert!(matches!(
            shard(&beyond, None),
            Err(JobError::ShardIndex { index: 4, count: 4 })
        ));
        let bad = [("JOB_COMPLETION_INDEX", "x")];
        let error = shard(&bad, Some(2)).unwrap_err().to_string();
        assert!(
            error.contains("`x` is not a non-negative integer"),
            "{error}"
        );
    }

    #[test]
    fn auto_outside_a_scheduler_is_an_error_and_specs_parse() {
        let error = shard(&[], None).unwrap_err().to_string();
        assert!(error.contains("JOB_COMPLETION_INDEX"), "{error}");
        assert_eq!("auto".parse::<ShardSpec>().unwrap(), ShardSpec::Auto);
        assert_eq!(
            "1/3".parse::<ShardSpec>().unwrap(),
            ShardSpec::Fixed(Shard::new(1, 3).unwrap())
        );
        assert_eq!(ShardSpec::Auto.to_string(), "auto");
        assert!("3/3".parse::<ShardSpec>().is_err());
    }
}
