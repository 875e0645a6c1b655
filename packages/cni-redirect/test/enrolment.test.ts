import { describe, expect, it } from 'vitest';
import { decideEnrolment, InMemoryPodSource, isEnrolled, type PodEvent } from '../src/index.js';

const ambient = { 'istio.io/dataplane-mode': 'ambient' };
const none = { 'istio.io/dataplane-mode': 'none' };

describe('enrolment (istio.io/dataplane-mode on namespace or pod; the pod label wins)', () => {
  it('enrols by namespace label', () => {
    expect(decideEnrolment(ambient, {})).toEqual({ enrolled: true, reason: 'namespace-label' });
  });
  it('enrols by pod label', () => {
    expect(decideEnrolment({}, ambient)).toEqual({ enrolled: true, reason: 'pod-label' });
  });
  it('lets a pod opt out with none, even in an ambient namespace', () => {
    expect(decideEnrolment(ambient, none)).toEqual({ enrolled: false, reason: 'pod-opt-out' });
  });
  it('lets the pod label win over a namespace that is not ambient', () => {
    expect(isEnrolled(none, ambient)).toBe(true);
  });
  it('does not enrol unlabelled pods, or pods with another mode', () => {
    expect(decideEnrolment({}, {})).toEqual({ enrolled: false, reason: 'not-labelled' });
    expect(decideEnrolment(ambient, { 'istio.io/dataplane-mode': 'sidecar' }).enrolled).toBe(false);
    expect(isEnrolled({ 'istio.io/dataplane-mode': 'Ambient' }, {})).toBe(false);
  });
  it('ignores inherited properties (labels are plain data)', () => {
    const labels = Object.create({ 'istio.io/dataplane-mode': 'ambient' }) as Record<string, string>;
    expect(isEnrolled(labels, {})).toBe(false);
  });
});

describe('InMemoryPodSource', () => {
  it('lists pods with their namespace labels and re-emits a namespace’s pods when its labels change', () => {
    const source = new InMemoryPodSource();
    const events: PodEvent[] = [];
    const stop = source.watch((e) => events.push(e));
    source.upsert({ uid: 'u1', name: 'a', namespace: 'ns', labels: {} });
    source.upsert({ uid: 'u2', name: 'b', namespace: 'other', labels: {} });
    source.setNamespaceLabels('ns', ambient);
    expect(
      events.map((e) =>
        e.type === 'upsert' ? `${e.pod.uid}:${isEnrolled(e.pod.namespaceLabels, e.pod.labels)}` : e.uid,
      ),
    ).toEqual(['u1:false', 'u2:false', 'u1:true']);
    source.delete('u2');
    source.delete('u2');
    expect(events.at(-1)).toEqual({ type: 'delete', uid: 'u2' });
    expect(events).toHaveLength(4);
    stop();
    source.delete('u1');
    expect(events).toHaveLength(4);
    expect(source.list()).toEqual([]);
  });
});
