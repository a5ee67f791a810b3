//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tessera_segment::{Algorithm, GraphKind, SegmentParams, Split};

/// Unsupervised segmentation of electron micrographs: chips, CNN embeddings, a similarity
/// graph and community detection.
#[derive(Debug, Parser)]
#[command(name = "tessera", version)]
pub(crate) struct Cli {
    /// Cache for the ONNX Runtime library, models and samples [default: $TESSERA_CACHE or
    /// ~/.cache/tessera].
    #[arg(long, global = true, env = "TESSERA_CACHE")]
    pub cache: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Segment images (files or folders): writes <stem>.labels.tif, <stem>.overlay.png and
    /// <stem>.json for each.
    Segment(SegmentArgs),
    /// Print what instrument files hold: signals, shapes, sample types, calibration and the
    /// instrument's settings.
    Info(InfoArgs),
    /// Make synthetic STEM-like images with known truth, segment them, and print ARI.
    Demo(DemoArgs),
    /// Segment images that have ground-truth masks and print ARI, NMI and mIoU, beside the
    /// published method (GraphEM parity) on the same model.
    Eval(EvalArgs),
    /// Fetch the ONNX Runtime library, the models and the sample images into the cache.
    Provision(ProvisionArgs),
    /// Run the live services (ingest, embedders, clusterer, publisher, decider) in this
    /// process against a NATS server, for a single box.
    Up(UpArgs),
    /// Simulate an instrument: publish a run of images or synthetic frames over NATS.
    Publish(PublishArgs),
    /// Print results as they arrive over NATS.
    Watch(WatchArgs),
    /// Named few-shot classifiers in NATS: store one made by `tessera segment --labels ...
    /// --save-classifier`, list them, or show one's edit history.
    #[command(subcommand)]
    Classifier(ClassifierCommand),
    /// Closed-loop policies (rules that turn results into instructions for the instrument):
    /// check a file, or store it for a run or an instrument (docs/policies.md).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Read one file and write it to stdout for a parent tessera (HDF5 files are read in such
    /// a child process, so that a damaged file cannot crash the command).
    #[command(hide = true)]
    ReadFile(ReadFileArgs),
    /// Create or update the NATS streams, consumers, buckets and object stores, and say what
    /// changed. Services do this themselves unless NATS gives each its own user
    /// (deploy/nats/auth.conf): then run this once as `admin` before them.
    Topology(TopologyArgs),
}

/// Where the live services are, for `up`, `publish` and `watch`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LiveArgs {
    /// Configuration file (TOML, see deploy/tessera.toml); TESSERA__SECTION__KEY variables
    /// override it.
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// NATS server URL (overrides bus.url).
    #[arg(long)]
    pub nats: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TopologyArgs {
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Redis URL for the embedding cache (overrides cache.url). Default: a redis-server
    /// started here when one is installed, else an in-process cache.
    #[arg(long)]
    pub redis: Option<String>,
    /// Folder for the data of the servers started here (NATS store, Redis snapshot), kept
    /// across restarts [default: $TESSERA_DATA, else ~/.local/share/tessera].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Embedder copies to run in this process.
    #[arg(long, default_value_t = 1)]
    pub embedders: usize,
    /// Run only these services (comma-separated: ingest, embedder, clusterer, publisher,
    /// decider, dashboard). Default: all of them.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Address to serve the dashboard on (overrides dashboard.bind; default 127.0.0.1:8080).
    #[arg(long)]
    pub dashboard: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Instrument files (DM3/DM4, EMD, SER/EMI, BCF, MRC, TIFF, PNG, JPEG) or folders of
    /// them to publish, one frame each (a stack's first plane), in name order.
    pub inputs: Vec<PathBuf>,
    /// The signal to publish from each file (e.g. HAADF; `tessera info FILE` lists them)
    /// [default: the file's first image].
    #[arg(long)]
    pub signal: Option<String>,
    /// Publish this many synthetic frames (a dose series) instead of images.
    #[arg(long, conflicts_with = "inputs")]
    pub synthetic: Option<u64>,
    /// Side of the synthetic frames in pixels.
    #[arg(long, default_value_t = 1024)]
    pub size: u32,
    /// Seed of the synthetic frames.
    #[arg(long, default_value_t = 1)]
    pub synthetic_seed: u64,
    /// Frames per second (0: as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// The instrument's id.
    #[arg(long, default_value = "sim-1")]
    pub instrument: String,
    /// The run's id [default: run-<unix time in ms>].
    #[arg(long)]
    pub run: Option<String>,
    /// Specimen name recorded with the run.
    #[arg(long, default_value = "")]
    pub sample: String,
    /// Imaging modality recorded with the run (e.g. STEM, SEM, TEM).
    #[arg(long, default_value = "STEM")]
    pub modality: String,
    /// Wait until every frame sent has a result or a reject, print each as it comes, then a
    /// summary.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up this many seconds after the last frame was sent, naming the
    /// frames still missing and what they were last seen doing.
    #[arg(long, default_value_t = 300, requires = "wait")]
    pub timeout: u64,
    /// Classify every frame with this named classifier (stored with `tessera classifier
    /// put`), beside its communities.
    #[arg(long)]
    pub classifier: Option<String>,
    /// A closed-loop policy (TOML, docs/policies.md) for this run: checked, then stored for
    /// the decider before the first frame.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Obey the run's decisions (needs --synthetic and a policy: --policy, or the
    /// instrument's): stop, change the dose rate, image a region at a higher magnification;
    /// each frame waits for its decision.
    #[arg(long, requires = "synthetic", conflicts_with = "wait")]
    pub obey: bool,
    /// With --obey: the highest magnification this instrument takes; a region asked for
    /// beyond it is refused (and the refusal sent back).
    #[arg(long, default_value_t = 64.0, requires = "obey")]
    pub max_magnification: f64,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check a policy file and print its rules, or what is wrong and on which line.
    Check(PolicyCheckArgs),
    /// Check a policy file and store it for a run or for every run of an instrument.
    Put(PolicyPutArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PolicyCheckArgs {
    /// The policy file (TOML).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyPutArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// The policy file (TOML).
    pub file: PathBuf,
    /// Store it for this run (it wins over the instrument's).
    #[arg(
        long,
        conflicts_with = "instrument",
        required_unless_present = "instrument"
    )]
    pub run: Option<String>,
    /// Store it for every run of this instrument.
    #[arg(long)]
    pub instrument: Option<String>,
    /// Who is storing it [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClassifierCommand {
    /// Store a classifier file under a name, as a new revision when the name exists.
    Put(ClassifierPutArgs),
    /// List the stored classifiers.
    List(ClassifierListArgs),
    /// Show every kept revision of one classifier: who saved it, when, and what changed.
    History(ClassifierHistoryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ClassifierPutArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// The classifier file (JSON, from `tessera segment --labels ... --save-classifier`).
    pub file: PathBuf,
    /// The name to store it under (letters, digits, - and _) [default: the name in the file].
    #[arg(long)]
    pub name: Option<String>,
    /// Who is saving it [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
    /// What changed, kept with the revision.
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Debug, Args)]
pub(crate) struct ClassifierListArgs {
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ClassifierHistoryArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// The classifier's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Only this instrument's results.
    #[arg(long)]
    pub instrument: Option<String>,
    /// Only this run's results (needs --instrument).
    #[arg(long, requires = "instrument")]
    pub run: Option<String>,
    /// Stop after this many results.
    #[arg(long)]
    pub count: Option<usize>,
    /// Print each result as one JSON line instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// How chips are embedded.
#[derive(Debug, Clone, Args)]
pub(crate) struct ModelArgs {
    /// Model: a provisioned name (efficientnet-lite0, tiny) or a manifest path or folder.
    #[arg(long, default_value = "efficientnet-lite0")]
    pub model: String,
    /// Network input side in pixels [default: the chip size when the model accepts any size].
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Execution provider: cpu, cuda[:N] or tensorrt[:N]. A GPU provider that does not load
    /// is an error, never a quiet fall-back to the CPU.
    #[arg(long, default_value = "cpu")]
    pub provider: String,
    /// Number format: auto (on the CPU the model's quantised INT8 twin where it has one,
    /// efficientnet-lite0-int8; FP32 elsewhere), fp32, int8 (the CPU's quantised model, or
    /// TensorRT's INT8), or with tensorrt fp16.
    #[arg(long, default_value = "auto")]
    pub precision: String,
    /// Inference threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Chips per inference batch [default: 64 on the CPU, 256 on a GPU].
    #[arg(long)]
    pub batch: Option<usize>,
    /// cuDNN's convolution algorithm search on the cuda provider: exhaustive (the first batch
    /// of each shape times every algorithm), heuristic (a fast first batch) or default.
    #[arg(long, default_value = "exhaustive")]
    pub cuda_conv_search: String,
    /// NHWC convolutions on the cuda provider (ONNX Runtime's prefer_nhwc), for FP16 models.
    #[arg(long)]
    pub cuda_nhwc: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphArg {
    /// Exact cosine k-nearest-neighbour graph, weighted.
    Knn,
    /// GraphEM's unweighted threshold graph.
    Threshold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SplitArg {
    /// One cut at --resolution.
    Fixed,
    /// The finest cut of a resolution sweep whose communities are all spatial regions.
    Coherent,
    /// The community count that holds over the most resolutions of the sweep.
    Plateau,
    /// The cut most like the cuts at the neighbouring resolutions.
    Neighbours,
    /// The cut most stable across seeds.
    Seeds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgorithmArg {
    /// Leiden (connected communities).
    Leiden,
    /// Louvain.
    Louvain,
}

/// The segmentation parameters; unset flags keep the defaults (or the preset's).
#[derive(Debug, Clone, Args)]
pub(crate) struct ParamArgs {
    /// Start from the published method's settings (threshold graph, Louvain).
    #[arg(long)]
    pub graphem: bool,
    /// Chip side in pixels.
    #[arg(long)]
    pub chip: Option<usize>,
    /// Distance between chips (smaller than --chip overlaps them) [default: the chip size,
    /// halved up to twice while the image has fewer than 500 chips].
    #[arg(long)]
    pub stride: Option<usize>,
    /// Neighbours per chip in the k-NN graph.
    #[arg(long)]
    pub k: Option<usize>,
    /// Modularity resolution (lower: fewer, larger communities); alone, it fixes the split.
    #[arg(long)]
    pub resolution: Option<f64>,
    /// Force this many communities.
    #[arg(long)]
    pub communities: Option<usize>,
    /// How the number of communities is chosen per image [default: coherent].
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// With --split coherent: the share of grid neighbours every community must keep.
    #[arg(long)]
    pub coherence: Option<f32>,
    /// Weight of the chip intensity statistics beside the CNN features (0: off).
    #[arg(long)]
    pub intensity_weight: Option<f32>,
    /// Weight of each chip's neighbourhood mean feature (0: off).
    #[arg(long)]
    pub context: Option<f32>,
    /// How much brightness may overrule the chips along boundaries, 0 to 1 (0: off).
    #[arg(long)]
    pub refine: Option<f32>,
    /// Flatten slow illumination gradients over this fraction of the longer side (0: off).
    #[arg(long)]
    pub flatten: Option<f32>,
    /// Graph kind.
    #[arg(long, value_enum)]
    pub graph: Option<GraphArg>,
    /// Community detection.
    #[arg(long, value_enum)]
    pub algorithm: Option<AlgorithmArg>,
    /// Project embeddings on this many principal components (0: off).
    #[arg(long)]
    pub pca: Option<usize>,
    /// Merge communities whose centroids have at least this cosine similarity (off: 0 or
    /// omit with the GraphEM preset).
    #[arg(long)]
    pub merge_similarity: Option<f32>,
    /// Merge communities of fewer chips into their most similar neighbour.
    #[arg(long)]
    pub min_community: Option<usize>,
    /// Seed of the community detection.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Lower clipping percentile of the normalisation.
    #[arg(long)]
    pub low_percentile: Option<f32>,
    /// Upper clipping percentile of the normalisation.
    #[arg(long)]
    pub high_percentile: Option<f32>,
}

impl ParamArgs {
    /// The parameters these flags select.
    pub(crate) fn params(&self) -> SegmentParams {
        let mut p = if self.graphem {
            SegmentParams::graphem()
        } else {
            SegmentParams::default()
        };
        if let Some(c) = self.chip {
            p.chip = c;
            if self.graphem {
                p.stride = Some(c);
            }
        }
        if let Some(s) = self.stride {
            p.stride = Some(s);
        }
        match (self.graph, self.k) {
            (Some(GraphArg::Threshold), _) => p.graph = GraphKind::Threshold,
            (Some(GraphArg::Knn), k) => p.graph = GraphKind::Knn { k: k.unwrap_or(10) },
            (None, Some(k)) => p.graph = GraphKind::Knn { k },
            (None, None) => {}
        }
        if let Some(a) = self.algorithm {
            p.algorithm = match a {
                AlgorithmArg::Leiden => Algorithm::Leiden,
                AlgorithmArg::Louvain => Algorithm::Louvain,
            };
        }
        if let Some(r) = self.resolution {
            p.resolution = r;
            p.split = Split::Fixed;
        }
        if let Some(split) = self.split {
            p.split = match split {
                SplitArg::Fixed => Split::Fixed,
                SplitArg::Coherent => Split::Coherent,
                SplitArg::Plateau => Split::Plateau,
                SplitArg::Neighbours => Split::Neighbours,
                SplitArg::Seeds => Split::Seeds,
            };
        }
        if let Some(n) = self.communities {
            p.communities = Some(n);
        }
        if let Some(c) = self.coherence {
            p.coherence = c;
        }
        if let Some(w) = self.intensity_weight {
            p.intensity_weight = w;
        }
        if let Some(w) = self.context {
            p.context = w;
        }
        if let Some(r) = self.refine {
            p.refine = r;
        }
        if let Some(f) = self.flatten {
            p.flatten = f;
        }
        if let Some(c) = self.pca {
            p.pca = (c > 0).then_some(c);
        }
        if let Some(s) = self.merge_similarity {
            p.merge_similarity = (s > 0.0).then_some(s);
        }
        if let Some(m) = self.min_community {
            p.min_community = m;
        }
        if let Some(s) = self.seed {
            p.seed = s;
        }
        if let Some(l) = self.low_percentile {
            p.low_percentile = l;
        }
        if let Some(h) = self.high_percentile {
            p.high_percentile = h;
        }
        p
    }
}

#[derive(Debug, Args)]
pub(crate) struct SegmentArgs {
    /// Instrument files (DM3/DM4, Velox or Berkeley EMD, TIA SER/EMI, Bruker BCF, MRC, TIFF,
    /// PNG, JPEG) or folders of them; a stack or volume is segmented plane by plane.
    #[arg(required_unless_present = "samples")]
    pub inputs: Vec<PathBuf>,
    /// The signal to segment (e.g. HAADF, BF, DF; `tessera info FILE` lists them)
    /// [default: the file's first image].
    #[arg(long)]
    pub signal: Option<String>,
    /// Also segment the provisioned sample images (fetched on first use).
    #[arg(long)]
    pub samples: bool,
    /// Output folder.
    #[arg(long, short, default_value = "tessera-out")]
    pub out: PathBuf,
    /// Overlay opacity, 0 to 1.
    #[arg(long, default_value_t = 0.4)]
    pub alpha: f32,
    /// Refuse images with more pixels than this (per page).
    #[arg(long, default_value_t = 268_435_456)]
    pub max_pixels: u64,
    /// Where the chip graph's k-NN search and confidence margins run: beside the model, as
    /// ONNX graphs on its provider (device), or on the CPU cores here (host). auto: device on
    /// a GPU provider; host on the CPU, the code the live clusterer runs, so that both give
    /// the same labels to the bit.
    #[arg(long, value_enum, default_value_t = GraphOn::Auto)]
    pub graph_on: GraphOn,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub params: ParamArgs,
    #[command(flatten)]
    pub classes: ClassArgs,
}

/// Few-shot classes beside the communities: a classifier made from a few labelled chips, or
/// a saved one.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClassArgs {
    /// Labels on the first input: a scribble mask (PNG or TIFF, same size; 0 = unlabelled,
    /// one value per class, e.g. painted with 1, 2, 3) or a .csv of `x,y,class` lines (pixel
    /// positions and class names). A classifier is made from the chips they label, and every
    /// input is labelled with its classes (`<stem>.classes.tif`, `<stem>.classes.png`,
    /// `classes` in the JSON).
    #[arg(long, conflicts_with = "classifier")]
    pub labels: Option<PathBuf>,
    /// Names of the classes of a --labels mask, in ascending mask-value order: NAME or
    /// NAME=#RRGGBB, comma-separated [default: "class V" for mask value V]; with a points
    /// file, the colours of its classes (NAME=#RRGGBB).
    #[arg(long, value_delimiter = ',', requires = "labels")]
    pub class_names: Vec<String>,
    /// How --labels become a classifier: logistic (a logistic-regression model on the
    /// features), prototypes (nearest class mean) or propagation (labels spread along the
    /// chip graph).
    #[arg(long, default_value = "logistic", requires = "labels")]
    pub class_method: String,
    /// Save the classifier made from --labels to this file (JSON), for --classifier later.
    #[arg(long, requires = "labels")]
    pub save_classifier: Option<PathBuf>,
    /// Label every input with a classifier saved by --save-classifier.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
}

/// Where the chip graph's dense steps run (`--graph-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphOn {
    /// The device on a GPU provider, the host on the CPU.
    Auto,
    /// This machine's CPU cores.
    Host,
    /// ONNX graphs on the model's execution provider.
    Device,
}

#[derive(Debug, Args)]
pub(crate) struct ReadFileArgs {
    /// Most pixels per plane.
    #[arg(long)]
    pub max_pixels: u64,
    /// Most planes per signal.
    #[arg(long)]
    pub max_pages: usize,
    /// The file.
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// Instrument files or folders of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// One JSON object per file (the acquisition's model, without the pixel data).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Output folder for the synthetic images, their truth and the segmentations.
    #[arg(long, short, default_value = "tessera-demo")]
    pub out: PathBuf,
    /// Side of the synthetic images in pixels.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Images to score.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Folder of ground-truth masks: for IMAGE.ext, the first of MASKS/IMAGE.* or
    /// MASKS/IMAGE_mask.* (any integer image; one value per class).
    #[arg(long)]
    pub masks: PathBuf,
    /// Mask value that means "unlabelled" and is ignored.
    #[arg(long)]
    pub ignore: Option<u32>,
    /// Also write the outputs of each run here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ProvisionArgs {
    /// Also fetch the sample images (scikit-image textures and photos, atomap's STEM image).
    #[arg(long)]
    pub samples: bool,
    /// Also fetch the GPU build of ONNX Runtime (onnxruntime-gpu, about 256 MB to download)
    /// into <cache>/runtime-gpu/, and make the ResNet50-shaped throughput models.
    #[arg(long)]
    pub gpu: bool,
}
