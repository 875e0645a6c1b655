import type { LabelSelector } from './resources.js';

/** Labels of a resource, never undefined. */
export type Labels = Readonly<Record<string, string>>;

const EMPTY: Labels = Object.freeze({});

/** The labels of an object, or an empty map. */
export function labelsOf(meta: { readonly labels?: Labels } | undefined): Labels {
  return meta?.labels ?? EMPTY;
}

/**
 * True when every `selector` entry is present with the same value in
 * `labels` (Kubernetes `matchLabels` / Service `selector` semantics). An empty
 * selector matches everything; callers decide what an empty selector means.
 */
export function matchLabels(selector: Labels | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const key in selector) {
    if (labels[key] !== selector[key]) return false;
  }
  return true;
}

/** Kubernetes `LabelSelector` semantics (`matchLabels` and `matchExpressions`, AND-ed). */
export function matchSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  if (!matchLabels(selector.matchLabels, labels)) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** True when a selector map is absent or has no entries. */
export function isEmptySelector(selector: Labels | undefined): boolean {
  if (!selector) return true;
  for (const _ in selector) return false;
  return true;
}
