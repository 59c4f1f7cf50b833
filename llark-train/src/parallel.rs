//! Data-parallel training on burn's collective operations (`burn::collective`, burn-collective's
//! all-reduce): one worker per device, every worker holding the whole model and optimizer.
//!
//! Each optimizer step, every worker draws the same micro-batches (the sampler is seeded and
//! identical everywhere) and computes the gradient of its own contiguous slice of each
//! ([`slice_of`]), its loss weighted by its share of the micro-batch's counted tokens. The
//! gradients are summed over the workers with burn-collective's all-reduce, so that every worker
//! holds the gradient of the whole step, clips it and applies the same AdamW update: the
//! parameters stay identical everywhere, and the run computes what one worker on the whole batch
//! computes (up to the order of floating-point sums). The number of workers is not part of the
//! trajectory: a run checkpointed with `n` workers resumes with any other number.
//!
//! The first worker (rank 0) writes the run's files (checkpoints, metrics, curve, the final
//! export); the others read a checkpoint to resume and write nothing. Every worker stops at the
//! same point when one fails: each step and each write ends with an agreement (a one-value
//! all-reduce of the failure flags), after which the failing worker returns its error and the
//! others [`TrainError::PeerFailed`].
//!
//! Several machines: run one process per node with [`DataParallel::nodes`] and
//! [`DataParallel::node`] set and the global fields of [`CollectiveConfig`] (the orchestrator's
//! address, this node's address and data-service port, the node count) filled in, with one
//! process running `burn::collective::start_global_orchestrator`; the output directory must be
//! shared (node 0 writes it, the others read checkpoints from it). See the README.
//!
//! burn-collective keeps one collective per backend type and process: run one data-parallel
//! training at a time in a process.

use std::path::Path;
use std::sync::Arc;

use burn::collective::{
    all_reduce, finish_collective, register, reset_collective, CollectiveConfig, PeerId,
    ReduceOperation,
};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use crate::checkpoint::Checkpoints;
use crate::config::TrainConfig;
use crate::data::{EncodingSource, TrainData};
use crate::error::{Result, TrainError};
use crate::grads::{fill_missing_grads, StepGradients};
use crate::model::TrainModel;
use crate::observer::{Silent, TrainObserver};
use crate::trainer::{TrainSummary, Trainer, CHECKPOINT_DIR};

/// One worker's place in a data-parallel run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// Rank among the workers of all nodes; rank 0 writes the run's files.
    pub rank: usize,
    /// Number of workers of all nodes.
    pub world: usize,
}

impl Worker {
    /// A trainer alone: rank 0 of 1.
    pub const ALONE: Worker = Worker { rank: 0, world: 1 };

    /// Its peer id in burn-collective (unique over all nodes: the rank).
    pub fn peer(&self) -> PeerId {
        PeerId::from(self.rank)
    }
}

/// The positions of a micro-batch of `len` examples that `worker` computes: the `rank`-th of
/// `world` contiguous slices whose lengths differ by at most one.
pub fn slice_of(len: usize, worker: Worker) -> std::ops::Range<usize> {
    let world = worker.world.max(1);
    (worker.rank * len / world)..((worker.rank + 1) * len / world)
}

/// How a data-parallel run is laid out: this node's devices (one worker each) and, on several
/// machines, which node this is.
#[derive(Debug, Clone)]
pub struct DataParallel<D> {
    /// This node's devices, one worker each.
    pub devices: Vec<D>,
    /// This node's index, `0..nodes`.
    pub node: usize,
    /// Number of nodes; every node has the same number of devices.
    pub nodes: usize,
    /// burn-collective's configuration: local and global strategies and, on several nodes, the
    /// addresses. Its device count is set from `devices`.
    pub collective: CollectiveConfig,
}

impl<D> DataParallel<D> {
    /// One machine with these devices, burn-collective's default strategies.
    pub fn local(devices: Vec<D>) -> Self {
        DataParallel {
            devices,
            node: 0,
            nodes: 1,
            collective: CollectiveConfig::default(),
        }
    }

    /// This layout as node `node` of `nodes` machines: `orchestrator` is the address of the
    /// process running `burn::collective::start_global_orchestrator` (e.g.
    /// `ws://10.0.0.1:3000`), `node_address` this node's address as the others reach it (e.g.
    /// `ws://10.0.0.2:3001`) and `data_port` the port of its tensor data service (the port of
    /// `node_address`). Every node runs the same number of devices.
    pub fn across_nodes(
        mut self,
        nodes: usize,
        node: usize,
        orchestrator: &str,
        node_address: &str,
        data_port: u16,
    ) -> Result<Self> {
        let address = |text: &str| {
            text.parse::<burn_communication::Address>()
                .map_err(|reason| TrainError::Parallel {
                    reason: format!("address {text:?}: {reason}"),
                })
        };
        let count = u32::try_from(nodes).map_err(|_| TrainError::Parallel {
            reason: format!("{nodes} nodes"),
        })?;
        self.collective = self
            .collective
            .with_num_nodes(count)
            .with_global_address(address(orchestrator)?)
            .with_node_address(address(node_address)?)
            .with_data_service_port(data_port);
        self.nodes = nodes;
        self.node = node;
        Ok(self)
    }

    /// Number of workers over all nodes.
    pub fn world(&self) -> usize {
        self.devices.len() * self.nodes
    }

    /// Checks the layout against the configuration.
    pub fn validate(&self, config: &TrainConfig) -> Result<()> {
        let refuse = |reason: String| Err(TrainError::Parallel { reason });
        if self.devices.is_empty() {
            return refuse("no devices".into());
        }
        if self.nodes == 0 || self.node >= self.nodes {
            return refuse(format!(
                "node {} is not one of the {} nodes",
                self.node, self.nodes
            ));
        }
        if config.micro_batch_size < self.world() {
            return refuse(format!(
                "micro_batch_size {} is smaller than the {} workers: every worker needs at \
                 least one example of each micro-batch",
                config.micro_batch_size,
                self.world()
            ));
        }
        Ok(())
    }
}

/// The data-parallel counterpart of [`Trainer::new_or_resume`] followed by [`Trainer::run`]
/// (or [`Trainer::run_until`] when `until` is given, without the final export): trains `model`
/// on `data` with one worker per device of `layout`, resuming from the newest complete
/// checkpoint in `out_dir` when there is one. `observer` hears the first worker of this node.
/// Returns that worker's summary and the models of this node's workers in rank order (all the
/// same: every worker applies the same update).
pub fn train_data_parallel<B, M, A>(
    model: M,
    data: TrainData<A>,
    config: TrainConfig,
    out_dir: impl AsRef<Path>,
    layout: &DataParallel<B::Device>,
    until: Option<usize>,
    observer: &mut dyn TrainObserver,
) -> Result<(TrainSummary, Vec<M>)>
where
    B: AutodiffBackend,
    M: TrainModel<B> + Send,
    A: EncodingSource + Send + Sync,
{
    layout.validate(&config)?;
    let out = out_dir.as_ref();
    let local = layout.devices.len();
    let world = layout.world();
    let audio = Arc::new(data.audio);
    let share = || TrainData {
        examples: data.examples.clone(),
        audio: Arc::clone(&audio),
        pad_id: data.pad_id,
    };
    let mut trainers = Vec::with_capacity(local);
    let mut resume_from = Checkpoints::at(out.join(CHECKPOINT_DIR))
        .latest_if_present()?
        .map(|(_, dir)| dir);
    for (i, device) in layout.devices.iter().enumerate() {
        let rank = layout.node * local + i;
        let model = model.clone().fork(device);
        let mut trainer = if rank == 0 {
            let trainer = Trainer::new_or_resume(model, share(), config.clone(), out)?;
            resume_from = trainer.last_checkpoint().map(Path::to_path_buf);
            trainer
        } else {
            match &resume_from {
                Some(checkpoint) => Trainer::resume_from_checkpoint(
                    model,
                    share(),
                    config.clone(),
                    out,
                    checkpoint,
                    false,
                )?,
                None => Trainer::build(model, share(), config.clone(), out, 0, false)?,
            }
        };
        trainer.set_worker(Worker { rank, world });
        trainers.push(trainer);
    }
    drop(model);

    let collective = layout.collective.clone().with_num_devices(local);
    reset_collective::<B::InnerBackend>();
    let mut trainers = trainers.into_iter();
    let first = trainers.next().expect("the layout has a device");
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = trainers
            .zip(&layout.devices[1..])
            .map(|(trainer, device)| {
                let collective = collective.clone();
                scope.spawn(move || run_worker(trainer, device, collective, until, &mut Silent))
            })
            .collect();
        let mut outcomes = vec![run_worker(
            first,
            &layout.devices[0],
            collective.clone(),
            until,
            observer,
        )];
        for handle in handles {
            outcomes.push(handle.join().unwrap_or_else(|_| {
                Err(TrainError::Parallel {
                    reason: "a worker thread panicked".into(),
                })
            }));
        }
        outcomes
    });
    let mut summary = None;
    let mut models = Vec::with_capacity(local);
    let mut errors = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok((done, model)) => {
                summary.get_or_insert(done);
                models.push(model);
            }
            Err(e) => errors.push(e),
        }
    }
    // The root cause wins over the workers that stopped because of it.
    let cause = errors
        .iter()
        .position(|e| !matches!(e, TrainError::PeerFailed { .. }))
        .unwrap_or(0);
    if !errors.is_empty() {
        return Err(errors.swap_remove(cause));
    }
    summary
        .map(|summary| (summary, models))
        .ok_or(TrainError::Parallel {
            reason: "no worker ran".into(),
        })
}

/// One worker: joins the collective, trains, leaves.
fn run_worker<B, M, A>(
    mut trainer: Trainer<B, M, A>,
    device: &B::Device,
    collective: CollectiveConfig,
    until: Option<usize>,
    observer: &mut dyn TrainObserver,
) -> Result<(TrainSummary, M)>
where
    B: AutodiffBackend,
    M: TrainModel<B>,
    A: EncodingSource,
{
    let worker = trainer
        .worker()
        .expect("a data-parallel trainer has its worker");
    let collective_error = |reason: String| TrainError::Collective {
        rank: worker.rank,
        step: trainer.step_count(),
        reason,
    };
    register::<B::InnerBackend>(worker.peer(), device.clone(), collective)
        .map_err(|e| collective_error(format!("registering: {e:?}")))?;
    let summary = match until {
        None => trainer.run_observed(observer),
        Some(limit) => trainer.run_until_observed(limit, observer),
    };
    let finished = finish_collective::<B::InnerBackend>(worker.peer());
    let summary = summary?;
    finished.map_err(|e| TrainError::Collective {
        rank: worker.rank,
        step: summary.steps,
        reason: format!("leaving: {e:?}"),
    })?;
    Ok((summary, trainer.into_model()))
}

/// Sums `values` over all workers.
fn sum_over_workers<B: Backend>(
    worker: Worker,
    step: usize,
    values: Vec<f32>,
    device: &B::Device,
) -> Result<Vec<f32>> {
    let n = values.len();
    let tensor = Tensor::<B, 1>::from_data(TensorData::new(values, [n]), device);
    let summed = all_reduce::<B>(
        worker.peer(),
        tensor.into_primitive().tensor(),
        ReduceOperation::Sum,
    )
    .map_err(|e| TrainError::Collective {
        rank: worker.rank,
        step,
        reason: format!("{e:?}"),
    })?;
    let summed = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(summed));
    summed
        .into_data()
        .into_vec::<f32>()
        .map_err(|e| TrainError::Collective {
            rank: worker.rank,
            step,
            reason: format!("reading the sum: {e:?}"),
        })
}

/// `outcome` once every worker has reached this point: this worker's own error, or
/// [`TrainError::PeerFailed`] when another worker failed.
pub(crate) fn agree<B: Backend, T>(
    worker: Worker,
    step: usize,
    device: &B::Device,
    outcome: Result<T>,
) -> Result<T> {
    let failed = if outcome.is_err() { 1.0 } else { 0.0 };
    let failures = sum_over_workers::<B>(worker, step, vec![failed], device)?;
    match outcome {
        Err(e) => Err(e),
        Ok(_) if failures[0] > 0.0 => Err(TrainError::PeerFailed {
            rank: worker.rank,
            step,
        }),
        Ok(value) => Ok(value),
    }
}

/// The whole step's gradients and loss from this worker's part (`local`, with the step's
/// tokens and example ids): the workers agree that every part succeeded, then the losses and
/// the gradients are summed over the workers.
pub(crate) fn reduce_step<B, M>(
    worker: Worker,
    step: usize,
    model: &M,
    device: &B::Device,
    micro_batches: usize,
    local: Result<(StepGradients, usize, Vec<String>)>,
) -> Result<(StepGradients, usize, Vec<String>)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    // [part losses of each micro-batch..., weighted step loss, failure flag]
    let mut values = vec![0.0f32; micro_batches + 2];
    match &local {
        Ok((grads, _, _)) => {
            for (v, &loss) in values.iter_mut().zip(&grads.micro_losses) {
                *v = loss as f32;
            }
            values[micro_batches] = grads.loss as f32;
        }
        Err(_) => values[micro_batches + 1] = 1.0,
    }
    let summed = sum_over_workers::<B::InnerBackend>(worker, step, values, device)?;
    let (mut grads, tokens, ids) = match local {
        Err(e) => return Err(e),
        Ok(_) if summed[micro_batches + 1] > 0.0 => {
            return Err(TrainError::PeerFailed {
                rank: worker.rank,
                step,
            })
        }
        Ok(local) => local,
    };
    fill_missing_grads(model, &mut grads.grads);
    grads.grads = grads
        .grads
        .all_reduce::<B::InnerBackend>(worker.peer(), ReduceOperation::Sum)
        .map_err(|e| TrainError::Collective {
            rank: worker.rank,
            step,
            reason: format!("gradients: {e:?}"),
        })?;
    grads.micro_losses = summed[..micro_batches]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    grads.loss = f64::from(summed[micro_batches]);
    Ok((grads, tokens, ids))
}
