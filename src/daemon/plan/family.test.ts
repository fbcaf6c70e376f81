import { describe, expect, it } from 'vitest';
import { ANNOTATION_HANDLED_BY_WEBHOOK, ANNOTATION_IP_FAMILY, ANNOTATION_NETWORK_TYPE } from '../../api/index.ts';
import { familyNeedsNamespace, podFamilyInput } from './family.ts';

const pod = (annotations: Record<string, string> = {}, labels: Record<string, string> = {}) => ({
  metadata: { name: 'p', namespace: 'team', annotations, labels },
});
const ns = (fam?: string) => ({
  metadata: { name: 'team', annotations: (fam ? { [ANNOTATION_IP_FAMILY]: fam } : {}) as Record<string, string> },
});

describe('pod IP family at ADD (SPEC §7.3 step 1, §4.4)', () => {
  it('the pod annotation wins and needs no namespace', () => {
    expect(familyNeedsNamespace(pod({ [ANNOTATION_IP_FAMILY]: 'IPv6Only' }))).toBe(false);
    expect(podFamilyInput(pod({ [ANNOTATION_IP_FAMILY]: 'IPv6Only' }), ns('DualStack'))).toBe('IPv6Only');
  });
  it('a pod without any input takes the namespace annotation', () => {
    expect(familyNeedsNamespace(pod())).toBe(true);
    expect(podFamilyInput(pod(), ns('DualStack'))).toBe('DualStack');
    expect(podFamilyInput(pod(), undefined)).toBe('');
  });
  it('no per-field merge: a pod with a network-type but no family gets the default, not the namespace family', () => {
    expect(podFamilyInput(pod({ [ANNOTATION_NETWORK_TYPE]: 'Underlay' }), ns('DualStack'))).toBe('');
  });
  it('a pod handled by the webhook carries the decided family', () => {
    const p = pod({ [ANNOTATION_HANDLED_BY_WEBHOOK]: 'true' });
    expect(familyNeedsNamespace(p)).toBe(false);
    expect(podFamilyInput(p, ns('DualStack'))).toBe('');
  });
});
