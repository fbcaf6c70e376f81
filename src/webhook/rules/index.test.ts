import { describe, expect, it } from 'vitest';
import { TEST_DEFAULTS, network, storeOf } from '../testdata.ts';
import { admissionHandlers } from './index.ts';
import { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS } from './ipinstance.ts';
import { request } from './request.testkit.ts';

const handlers = admissionHandlers(storeOf({}), {
  defaults: TEST_DEFAULTS,
  ipInstancePolicy: { allowedUsers: DEFAULT_IPINSTANCE_WRITERS, adminGroups: DEFAULT_IPINSTANCE_ADMIN_GROUPS },
});

describe('admissionHandlers dispatch', () => {
  it('routes by group and kind and lets unknown kinds pass', () => {
    expect(handlers.validate(request('Network', 'CREATE', network('o', { type: 'Overlay', netID: 0 })))).toMatchObject({
      rule: 'network.net-id.range',
    });
    expect(handlers.validate(request('IPInstance', 'DELETE', undefined, { metadata: { name: 'x' } }))).toMatchObject({
      rule: 'ipinstance.writer',
    });
    const other = { ...request('Pod', 'CREATE', {}), kind: { group: 'apps', version: 'v1', kind: 'Deployment' } };
    expect(handlers.validate(other)).toEqual({ allowed: true, reason: 'by pass' });
    expect(handlers.mutate(request('Network', 'CREATE', {}))).toEqual({ allowed: true, reason: 'by pass' });
  });
});
