/**
 * Least privilege, both ways: the permissions each component's code needs (tools/rbac/scan.ts reads its KubeClient
 * calls) against the Roles the chart binds to that component's ServiceAccount. Fails naming the verb, the resource
 * and the code line when the code needs a verb the chart does not grant, and naming the rule when the chart grants
 * something no code uses. The runtime counterpart (processes under the chart's ServiceAccounts) is cluster.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { scanComponent, type ApiCall } from '../../tools/rbac/scan.ts';
import { REPO, render, type Rendered } from './helm.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** `group|resource|verb` → where it is granted (`ClusterRole/x` or `Role/ns/x`) for the ServiceAccount. */
function grantsOf(objs: Rendered[], namespace: string, sa: string): Map<string, string[]> {
  const grants = new Map<string, string[]>();
  const bound = (o: Rendered): boolean =>
    ((o as { subjects?: { kind: string; name: string; namespace?: string }[] }).subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === namespace,
    );
  for (const binding of objs.filter((o) => (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') && bound(o))) {
    const ref = (binding as unknown as { roleRef: { kind: string; name: string } }).roleRef;
    const role = objs.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        (ref.kind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace),
    );
    if (!role) throw new Error(`${binding.kind} ${binding.metadata.name} refers to missing ${ref.kind} ${ref.name}`);
    const where =
      role.kind === 'Role'
        ? `Role/${role.metadata.namespace}/${role.metadata.name}`
        : `ClusterRole/${role.metadata.name}`;
    for (const rule of (role as unknown as { rules: Rule[] }).rules) {
      for (const g of rule.apiGroups)
        for (const r of rule.resources)
          for (const v of rule.verbs) {
            const key = `${g}|${r}|${v}`;
            const names = rule.resourceNames ? ` (resourceNames ${rule.resourceNames.join(',')})` : '';
            grants.set(key, [...(grants.get(key) ?? []), where + names]);
          }
    }
  }
  return grants;
}

const COMPONENTS = ['manager', 'webhook', 'daemon'] as const;

describe('RBAC: chart roles vs the API calls in the code (static, helm real)', () => {
  it.each(COMPONENTS)(
    '%s: every KubeClient call is granted and every grant is used',
    async (component) => {
      const objs = await render();
      const scan = scanComponent(`${REPO}/src/cli/${component}.ts`, REPO);
      expect(scan.unresolved, 'API calls the scan could not attribute to a resource').toEqual([]);
      expect(scan.calls.length).toBeGreaterThan(0);
      const grants = grantsOf(objs, 'kube-system', `hybridnet-${component}`);

      const callsBy = new Map<string, ApiCall[]>();
      for (const c of scan.calls)
        for (const r of c.resources) {
          const key = `${scan.permissions.find((p) => p.resource === r)?.group ?? '?'}|${r}|${c.verb}`;
          callsBy.set(key, [...(callsBy.get(key) ?? []), c]);
        }
      const missing = scan.permissions
        .filter((p) => !grants.has(`${p.group}|${p.resource}|${p.verb}`))
        .map((p) => {
          const at = (callsBy.get(`${p.group}|${p.resource}|${p.verb}`) ?? []).map((c) => `${c.file}:${c.line}`);
          return `${p.verb} ${p.group === '' ? 'core' : p.group}/${p.resource} (used at ${at.join(', ')})`;
        });
      expect(missing, `hybridnet-${component} needs permissions its chart roles lack`).toEqual([]);

      const needed = new Set(scan.permissions.map((p) => `${p.group}|${p.resource}|${p.verb}`));
      const unused = [...grants.entries()]
        .filter(([k]) => !needed.has(k))
        .map(
          ([k, where]) => `${k.split('|')[2]} ${k.split('|')[0] || 'core'}/${k.split('|')[1]} in ${where.join(', ')}`,
        );
      expect(unused, `hybridnet-${component} roles grant what no code uses`).toEqual([]);

      // Leases only in the release namespace (a Role), never cluster-wide.
      for (const [k, where] of grants) if (k.includes('|leases|')) for (const w of where) expect(w).toMatch(/^Role\//);
    },
    300_000,
  );
});
