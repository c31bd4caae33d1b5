/**
 * Helpers for the chart tests: Helm's value merging, Kubernetes schema validation with kubernetes-models,
 * and finding a helm binary when one exists (CI installs one; these machines have none by default).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ScrapeConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Helm's coalescing of a values file over the chart defaults: maps merge key by key, anything else
 * (lists included) replaces, and null deletes the default.
 */
export function coalesceValues(base: JsonObject, override: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isObject(current) && isObject(value)) out[key] = coalesceValues(current, value);
    else out[key] = value;
  }
  return out;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'apps/v1/StatefulSet': StatefulSet as unknown as ModelClass,
  'v1/Pod': Pod as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as ModelClass,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as ModelClass,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as ModelClass,
  'monitoring.coreos.com/v1alpha1/ScrapeConfig': ScrapeConfig as unknown as ModelClass,
};

/**
 * Validates one manifest against the Kubernetes (or Prometheus Operator) JSON schema of its kind.
 * Checks types, enums and required fields; unknown fields pass here (kubeconform -strict in CI rejects them).
 */
export function validateManifest(doc: JsonObject): void {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  const name = isObject(doc.metadata) ? String(doc.metadata.name) : '?';
  try {
    new Model(doc as never).validate();
  } catch (error) {
    throw new Error(`${key} ${name}: ${(error as Error).message}`);
  }
}

/** A helm binary: $HELM_BIN, else `helm` on PATH; undefined when there is none. */
export function findHelm(): string | undefined {
  const candidates = [process.env.HELM_BIN, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm'))];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      execFileSync(candidate, ['version', '--short'], { stdio: 'pipe' });
      return candidate;
    } catch {
      // Not there, or not a working helm.
    }
  }
  return undefined;
}
