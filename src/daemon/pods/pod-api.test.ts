import { describe, expect, it } from 'vitest';
import { ANNOTATION_CALICO_POD_IP, ANNOTATION_CALICO_POD_IPS } from '../../api/index.ts';
import { calicoPodIPAnnotations } from './pod-api.ts';

describe('calicoPodIPAnnotations', () => {
  it('podIPs lists every IP; the singular podIP is the IPv4 address whatever the order', () => {
    expect(calicoPodIPAnnotations(['10.0.0.2', 'fd00::2'])).toEqual({
      [ANNOTATION_CALICO_POD_IPS]: '10.0.0.2,fd00::2',
      [ANNOTATION_CALICO_POD_IP]: '10.0.0.2',
    });
    expect(calicoPodIPAnnotations(['fd00::2', '10.0.0.2'])).toEqual({
      [ANNOTATION_CALICO_POD_IPS]: 'fd00::2,10.0.0.2',
      [ANNOTATION_CALICO_POD_IP]: '10.0.0.2',
    });
  });

  it('an IPv6-only pod gets its IPv6 address as podIP; no IP, no annotation', () => {
    expect(calicoPodIPAnnotations(['fd00::2'])).toEqual({
      [ANNOTATION_CALICO_POD_IPS]: 'fd00::2',
      [ANNOTATION_CALICO_POD_IP]: 'fd00::2',
    });
    expect(calicoPodIPAnnotations([])).toEqual({});
  });
});
