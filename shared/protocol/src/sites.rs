//! Where the streams live when embedders run at an edge site beside the instrument and the
//! rest at a hub (deploy/README.md, "Edge and hub"), as plain data.
//!
//! The edge's nats-server is a leaf node of the hub's and each has its own JetStream domain,
//! so the edge keeps working while the link is down. Work crosses the link only through
//! stream sourcing, which stores a message on one side before the other lets it go:
//!
//! | stream | hub | edge |
//! | --- | --- | --- |
//! | ACQ, SEGMENTED, RESULTS; KV buckets, object stores | yes | no |
//! | WORK | `tessera.work.*` (ingest publishes here) | no subjects; **sources** the hub's WORK |
//! | EMBEDDED | `tessera.embedded.*`, and **sources** each edge's EMBEDDED | `tessera.embedded.*` (the embedders publish here) |
//! | REJECTS, DLQ | all subjects, and **source** each edge's | the embedder's subjects only |
//!
//! The hub's WORK is consumed by the edge's source, so the hub has no `embedder` consumer:
//! a second reader of a work queue (a source is one the server does not count) would take
//! batches the edge also takes, and they would be embedded twice. For the same reason one
//! hub serves one edge site: several would need WORK partitioned by site.

use serde::Deserialize;

use crate::streams::{
    self, ConsumerSpec, DLQ, EMBEDDED, EMBEDDER_CONSUMER, KvSpec, ObjectStoreSpec, REJECTS,
    StreamSpec, WORK,
};
use crate::subjects::Service;

/// A stream in another JetStream domain that a stream copies in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    /// The upstream stream's name.
    pub stream: &'static str,
    /// The JetStream domain that holds it.
    pub domain: String,
}

impl StreamSource {
    /// The JetStream API prefix of the upstream's domain, `$JS.<domain>.API`.
    pub fn api_prefix(&self) -> String {
        format!("$JS.{}.API", self.domain)
    }
}

/// Which side of a deployment a service runs on (`bus.site`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Site {
    /// Everything on one nats-server (or one cluster): the default.
    #[default]
    Single,
    /// The cloud hub of an edge deployment: every stream, with EMBEDDED, REJECTS and DLQ also
    /// copying in the edge's; every service but the embedder.
    Hub,
    /// An edge site: WORK copied in from the hub, EMBEDDED, and the embedder's REJECTS and
    /// DLQ; only the embedder.
    Edge,
}

impl Site {
    /// The setting's value: `single`, `hub` or `edge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::Single => "single",
            Site::Hub => "hub",
            Site::Edge => "edge",
        }
    }

    /// Whether `service` runs at this site: embedders only at an edge, the others only at a
    /// hub, everything on a single site.
    pub fn runs(self, service: Service) -> bool {
        match self {
            Site::Single => true,
            Site::Hub => service != Service::Embedder,
            Site::Edge => service == Service::Embedder,
        }
    }
}

/// The subjects of the edge's REJECTS: only the embedder's.
pub const EDGE_REJECTS_SUBJECTS: &[&str] = &["tessera.rejects.embedder"];
/// The subjects of the edge's DLQ: only the dead letters of WORK.
pub const EDGE_DLQ_SUBJECTS: &[&str] = &["tessera.dlq.WORK"];

/// What one site creates: its streams, durable consumers, KV buckets and object stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Streams, in pipeline order.
    pub streams: Vec<StreamSpec>,
    /// Durable consumers.
    pub consumers: Vec<ConsumerSpec>,
    /// KV buckets.
    pub kv: Vec<KvSpec>,
    /// Object stores.
    pub objects: Vec<ObjectStoreSpec>,
}

/// The layout of `site`, from `streams` (every stream of [`streams::STREAMS`], sized as the
/// deployment wants). `hub_domain` is the hub's JetStream domain (used at an edge),
/// `edge_domain` the edge site's (used at a hub).
pub fn layout(site: Site, streams: Vec<StreamSpec>, hub_domain: &str, edge_domain: &str) -> Layout {
    let all = Layout {
        streams,
        consumers: streams::all_consumers(),
        kv: streams::all_kv_buckets(),
        objects: streams::all_object_stores(),
    };
    match site {
        Site::Single => all,
        Site::Hub => {
            let mut hub = all;
            for s in &mut hub.streams {
                if [EMBEDDED.name, REJECTS.name, DLQ.name].contains(&s.name) {
                    s.sources = vec![StreamSource {
                        stream: s.name,
                        domain: edge_domain.to_string(),
                    }];
                }
            }
            hub.consumers
                .retain(|c| c.durable != EMBEDDER_CONSUMER.durable);
            hub
        }
        Site::Edge => {
            let mut streams: Vec<StreamSpec> = all
                .streams
                .into_iter()
                .filter(|s| [WORK.name, EMBEDDED.name, REJECTS.name, DLQ.name].contains(&s.name))
                .collect();
            for s in &mut streams {
                if s.name == WORK.name {
                    s.subjects = &[];
                    s.sources = vec![StreamSource {
                        stream: WORK.name,
                        domain: hub_domain.to_string(),
                    }];
                } else if s.name == REJECTS.name {
                    s.subjects = EDGE_REJECTS_SUBJECTS;
                } else if s.name == DLQ.name {
                    s.subjects = EDGE_DLQ_SUBJECTS;
                }
            }
            Layout {
                streams,
                consumers: vec![EMBEDDER_CONSUMER],
                kv: Vec::new(),
                objects: Vec::new(),
            }
        }
    }
}

/// Checks the domains a site needs (`bus.hub_domain`, `bus.edge_domain`), returning the
/// problem and the way out.
pub fn check_domains(
    site: Site,
    hub_domain: &str,
    edge_domain: Option<&str>,
) -> Result<(), String> {
    let valid = |d: &str| {
        !d.is_empty()
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match (site, edge_domain) {
        (Site::Single | Site::Edge, Some(_)) => Err(format!(
            "bus.edge_domain is set but bus.site is {:?}; it belongs to the hub of an edge \
             deployment (bus.site = \"hub\"): leave it unset here",
            site.as_str()
        )),
        (Site::Hub, None) => Err(
            "bus.edge_domain is unset but bus.site is \"hub\"; set it to the JetStream domain \
             of the edge site's nats-server (leaf.conf: \"edge\")"
                .into(),
        ),
        (Site::Hub, Some(d)) if !valid(d) || d == hub_domain => Err(format!(
            "bus.edge_domain is {d:?}; a domain is letters, digits, '-' and '_', and differs \
             from bus.hub_domain ({hub_domain:?})"
        )),
        (Site::Edge, None) if !valid(hub_domain) => Err(format!(
            "bus.hub_domain is {hub_domain:?}; at an edge it names the hub's JetStream domain \
             (hub.conf: \"hub\"): letters, digits, '-' and '_'"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subjects::{dlq_subject, rejects_subject};

    #[test]
    fn a_single_site_has_everything_unsourced() {
        let l = layout(Site::Single, streams::all_streams(), "hub", "");
        assert_eq!(l.streams, streams::all_streams());
        assert_eq!(l.consumers, streams::all_consumers());
        assert!(l.streams.iter().all(|s| s.sources.is_empty()));
    }

    #[test]
    fn the_hub_sources_the_edges_results_and_leaves_work_to_it() {
        let l = layout(Site::Hub, streams::all_streams(), "hub", "edge");
        let sourced: Vec<_> = l
            .streams
            .iter()
            .filter(|s| !s.sources.is_empty())
            .map(|s| (s.name, s.sources[0].api_prefix()))
            .collect();
        assert_eq!(
            sourced,
            [
                ("EMBEDDED", "$JS.edge.API".to_string()),
                ("REJECTS", "$JS.edge.API".to_string()),
                ("DLQ", "$JS.edge.API".to_string())
            ]
        );
        assert_eq!(l.streams.len(), streams::STREAMS.len());
        assert!(l.consumers.iter().all(|c| c.stream != WORK.name));
        assert_eq!(l.kv.len(), streams::KV_BUCKETS.len());
    }

    #[test]
    fn the_edge_holds_only_the_embedders_streams() {
        let l = layout(Site::Edge, streams::all_streams(), "hub", "");
        let names: Vec<_> = l.streams.iter().map(|s| s.name).collect();
        assert_eq!(names, ["WORK", "EMBEDDED", "REJECTS", "DLQ"]);
        let work = &l.streams[0];
        assert!(work.subjects.is_empty());
        assert_eq!(work.sources[0].api_prefix(), "$JS.hub.API");
        assert_eq!(l.consumers, [EMBEDDER_CONSUMER]);
        assert!(l.kv.is_empty() && l.objects.is_empty());
        assert_eq!(EDGE_REJECTS_SUBJECTS, [rejects_subject(Service::Embedder)]);
        assert_eq!(EDGE_DLQ_SUBJECTS, [dlq_subject(WORK.name).unwrap()]);
    }

    #[test]
    fn services_run_on_their_side() {
        assert!(Service::ALL.iter().all(|s| Site::Single.runs(*s)));
        assert!(!Site::Hub.runs(Service::Embedder) && Site::Hub.runs(Service::Clusterer));
        assert!(Site::Edge.runs(Service::Embedder) && !Site::Edge.runs(Service::Ingest));
    }

    #[test]
    fn domains_are_checked() {
        assert!(check_domains(Site::Single, "hub", None).is_ok());
        assert!(check_domains(Site::Hub, "hub", Some("edge")).is_ok());
        assert!(check_domains(Site::Edge, "hub", None).is_ok());
        assert!(check_domains(Site::Single, "hub", Some("edge")).is_err());
        assert!(check_domains(Site::Edge, "hub", Some("edge")).is_err());
        assert!(check_domains(Site::Hub, "hub", None).is_err());
        assert!(check_domains(Site::Hub, "hub", Some("hub")).is_err());
        assert!(check_domains(Site::Hub, "hub", Some("a.b")).is_err());
        assert!(check_domains(Site::Edge, "", None).is_err());
    }
}
