/**
 * The admission rules (pure) and their dispatch by kind: the webhook server calls
 * {@link admissionHandlers}; everything else is in the per-kind modules.
 */
import { IPInstanceResource, NETWORKING_GROUP, NetworkResource, SubnetResource } from '../../api/index.ts';
import type { SelectionDefaults } from '../../selection/index.ts';
import type { AdmissionRequest } from '../admission.ts';
import { allow, type Decision } from '../decision.ts';
import type { AdmissionHandlers } from '../server.ts';
import type { ClusterView } from '../view.ts';
import { validateIPInstance, type IPInstancePolicy } from './ipinstance.ts';
import { validateNetwork } from './network.ts';
import { mutatePod, validatePod } from './pod.ts';
import { validateSubnet } from './subnet.ts';

export { validateIPInstance, validateNetwork, validatePod, mutatePod, validateSubnet };
export { DEFAULT_IPINSTANCE_ADMIN_GROUPS, DEFAULT_IPINSTANCE_WRITERS, type IPInstancePolicy } from './ipinstance.ts';

/** Configuration of the rules (from flags and environment). */
export interface AdmissionConfig {
  defaults: SelectionDefaults;
  ipInstancePolicy: IPInstancePolicy;
}

/** Routes a validation request to the rule of its kind; unknown kinds pass ("by pass", SPEC §5.1). */
export function validateRequest(req: AdmissionRequest, view: ClusterView, config: AdmissionConfig): Decision {
  const { group, kind } = req.kind;
  if (group === NETWORKING_GROUP) {
    if (kind === NetworkResource.kind) return validateNetwork(req, view);
    if (kind === SubnetResource.kind) return validateSubnet(req, view);
    if (kind === IPInstanceResource.kind) return validateIPInstance(req, config.ipInstancePolicy);
  }
  if (group === '' && kind === 'Pod' && req.subResource === undefined) return validatePod(req, view, config.defaults);
  return allow('by pass');
}

/** Routes a mutation request; only Pods are mutated (SPEC §5.5). */
export function mutateRequest(req: AdmissionRequest, view: ClusterView, config: AdmissionConfig): Decision {
  if (req.kind.group === '' && req.kind.kind === 'Pod' && req.subResource === undefined) {
    return mutatePod(req, view, config.defaults);
  }
  return allow('by pass');
}

/** The two handlers of the server, bound to a view and a configuration. */
export function admissionHandlers(view: ClusterView, config: AdmissionConfig): AdmissionHandlers {
  return {
    validate: (req) => validateRequest(req, view, config),
    mutate: (req) => mutateRequest(req, view, config),
  };
}
