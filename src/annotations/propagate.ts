/**
 * Propagation: every image inherits its cluster's expert labels (SOURCES.md §6), as the
 * TransformLabel line load reads (src/manifest/transform-records.ts) and maps to BIOMEDICA's fields:
 *
 *   clusterId       → image_cluster_id        the k-means cluster; -1: the image was not clustered
 *   labelId         → image_label_id          String(clusterId) when the cluster is labelled, else ''
 *                                             (BIOMEDICA wrote the cluster id there as a string)
 *   panelType       → image_panel_type        the cluster's panel_type
 *   panelSubtype    → image_panel_subtype     the cluster's panel_subtype
 *   primaryLabel    → image_primary_label     the cluster's global_class[]
 *   secondaryLabel  → image_secondary_label   the cluster's local_class[]
 *
 * An unlabelled cluster is explicit, with load's typed empty values and no new sentinel string:
 * `clusterId ≥ 0` with `labelId === ''` means "clustered, but experts have not labelled that
 * cluster (yet)"; `clusterId === -1` means "not clustered". In SQL over the index:
 * `image_cluster_id >= 0 AND image_label_id = ''`. Labels are copied as given (order and all),
 * so the dataset says exactly what the experts wrote.
 */
import type { TransformLabel } from '../manifest/transform-records.js';
import { isUnlabelled, type ClusterLabels } from './cluster-labels.js';

export type ImageLabel = Omit<TransformLabel, 'key'>;

/** The label of any image of cluster `clusterId` (pass -1 for an image that was not clustered). */
export function clusterLabel(clusterId: number, labels: ClusterLabels): ImageLabel {
  const label = clusterId >= 0 ? labels[String(clusterId)] : undefined;
  if (isUnlabelled(label)) {
    return { clusterId, labelId: '', panelType: '', panelSubtype: '', primaryLabel: [], secondaryLabel: [] };
  }
  return {
    clusterId,
    labelId: String(clusterId),
    panelType: label!.panel_type,
    panelSubtype: label!.panel_subtype,
    primaryLabel: [...label!.global_class],
    secondaryLabel: [...label!.local_class],
  };
}

/** The TransformLabel line of one image: what the transform label step writes per image key. */
export function propagateLabel(key: string, clusterId: number, labels: ClusterLabels): TransformLabel {
  return { key, ...clusterLabel(clusterId, labels) };
}

/** True for a line whose image was clustered but whose cluster has no expert label. */
export const inUnlabelledCluster = (label: ImageLabel): boolean => label.clusterId >= 0 && label.labelId === '';
