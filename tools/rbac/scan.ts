/**
 * Static derivation of the Kubernetes API permissions a component needs, from its source code.
 *
 * Every API call of Hybridnet goes through `KubeClient` (src/kube/client.ts). For one component entry point
 * (`src/cli/manager.ts`, …) this module takes the files reachable by relative imports, finds every call of a
 * `KubeClient` method (`get` → get, `listAll` → list, `watch` → watch, `create`, `replace` → update,
 * `mergePatch` → patch, `delete`, `request(METHOD, …)`), and resolves which resource the path argument names by
 * following identifiers through their initializers, the bodies of path helpers (`paths.network(…)`), the call sites
 * of parameters (`ensureFinalizer(ctx, paths.subnet(name), …)`) and the object literals that fill an options
 * property (`new Informer(client, { path: resourcePath(r) })`), down to the resource constants (`PodsPath`,
 * `NetworkResource`, …). A `status` subresource is recognised when the string `status` appears in an argument
 * text on that chain (`paths.ipInstance(ns, name, 'status')`, `` `${path}/status` ``).
 *
 * A call whose resource cannot be resolved is reported as `unresolved` (the RBAC test fails on it), and so is any
 * use of client-node's own API clients (`makeApiClient`, `makeInformer`, `Watch`), which this scan cannot see
 * through. Used by test/helm/rbac.test.ts to compare the chart's Roles with what the code does (least privilege
 * both ways). Development tooling: imports the TypeScript compiler (a dev dependency).
 */
import path from 'node:path';
import ts from 'typescript';

/** One permission: API group, resource (with `/status` for the subresource), verb, cluster or namespaced. */
export interface Permission {
  group: string;
  resource: string;
  verb: string;
}

/** One API call found in the code. */
export interface ApiCall {
  file: string;
  line: number;
  verb: string;
  /** Resources (`pods`, `ipinstances/status`, …) the path may name; several when it flows from several sites. */
  resources: string[];
  text: string;
}

/** Result of {@link scanComponent}. */
export interface ScanResult {
  /** Source files of the component (repository-relative). */
  files: string[];
  calls: ApiCall[];
  /** Calls or API uses the scan could not resolve: each must be fixed (or taught to the scan). */
  unresolved: string[];
  /** Union of the permissions, sorted, de-duplicated. */
  permissions: Permission[];
}

/** Resource constants of src/kube/client.ts and src/api → (group, plural). */
const RESOURCE_CONSTANTS: Record<string, { group: string; plural: string }> = {
  PodsPath: { group: '', plural: 'pods' },
  NodesPath: { group: '', plural: 'nodes' },
  NamespacesPath: { group: '', plural: 'namespaces' },
  EventsPath: { group: '', plural: 'events' },
  LeasesPath: { group: 'coordination.k8s.io', plural: 'leases' },
  NetworkResource: { group: 'networking.alibaba.com', plural: 'networks' },
  SubnetResource: { group: 'networking.alibaba.com', plural: 'subnets' },
  IPInstanceResource: { group: 'networking.alibaba.com', plural: 'ipinstances' },
  NodeInfoResource: { group: 'networking.alibaba.com', plural: 'nodeinfoes' },
};

/** KubeClient method → RBAC verb. */
const METHOD_VERBS: Record<string, string> = {
  get: 'get',
  listAll: 'list',
  watch: 'watch',
  create: 'create',
  replace: 'update',
  mergePatch: 'patch',
  delete: 'delete',
};

const HTTP_VERBS: Record<string, string> = {
  GET: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Group of a resource name returned in {@link ApiCall.resources}. */
export function groupOf(resource: string): string {
  const plural = resource.split('/')[0] ?? '';
  for (const c of Object.values(RESOURCE_CONSTANTS)) if (c.plural === plural) return c.group;
  return '?';
}

/**
 * The component files: `entry` and every `src/` file that declares a symbol it imports, transitively. Imports through
 * a barrel (`../kube/index.ts`) resolve to the declaring module, so a component is not charged with the API calls of
 * modules it never imports (the leader elector, for one).
 */
function closureOf(program: ts.Program, checker: ts.TypeChecker, entry: string): ts.SourceFile[] {
  const out = new Map<string, ts.SourceFile>();
  const queue = [path.resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (out.has(file)) continue;
    const sf = program.getSourceFile(file);
    if (sf === undefined) continue;
    out.set(file, sf);
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      if (!st.moduleSpecifier.text.startsWith('.') || st.importClause === undefined || st.importClause.isTypeOnly)
        continue;
      const bindings = st.importClause.namedBindings;
      if (bindings !== undefined && ts.isNamedImports(bindings)) {
        for (const el of bindings.elements) {
          if (el.isTypeOnly) continue;
          let sym = checker.getSymbolAtLocation(el.name);
          if (sym !== undefined && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
          for (const d of sym?.declarations ?? []) queue.push(d.getSourceFile().fileName);
        }
      } else {
        queue.push(path.resolve(path.dirname(file), st.moduleSpecifier.text));
      }
    }
  }
  return [...out.values()].filter((f) => !f.isDeclarationFile);
}

/**
 * Scans the component whose command module is `entry` (absolute or cwd-relative path of a .ts file).
 * `repoRoot` makes the reported file names relative. @throws Error when the entry is not part of the program.
 */
export function scanComponent(entry: string, repoRoot: string): ScanResult {
  const program = ts.createProgram([path.resolve(entry)], {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
  });
  if (program.getSourceFile(path.resolve(entry)) === undefined) throw new Error(`${entry}: not found`);
  const checker = program.getTypeChecker();
  const files = closureOf(program, checker, entry).filter((f) => !f.fileName.endsWith('.test.ts'));
  const rel = (f: string): string => path.relative(repoRoot, f);
  const where = (n: ts.Node): string => {
    const sf = n.getSourceFile();
    return `${rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  };

  const allNodes: ts.Node[] = [];
  for (const sf of files) {
    const visit = (n: ts.Node): void => {
      allNodes.push(n);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }

  const symbolOf = (n: ts.Node): ts.Symbol | undefined => {
    let s = checker.getSymbolAtLocation(n);
    if (s !== undefined && s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s);
    return s;
  };

  // Indices built once: calls by callee symbol, object-literal properties and assignments by property name.
  const callsByCallee = new Map<ts.Symbol, ts.CallLikeExpression[]>();
  const propsByName = new Map<string, (ts.PropertyAssignment | ts.ShorthandPropertyAssignment)[]>();
  const assignsByName = new Map<string, ts.BinaryExpression[]>();
  const push = <K, V>(m: Map<K, V[]>, k: K, v: V): void => {
    const list = m.get(k);
    if (list === undefined) m.set(k, [v]);
    else list.push(v);
  };
  for (const n of allNodes) {
    if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
      const callee = ts.isPropertyAccessExpression(n.expression) ? n.expression.name : n.expression;
      const sym = symbolOf(callee);
      if (sym !== undefined) push(callsByCallee, sym, n);
    } else if (ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n)) {
      push(propsByName, n.name.getText(), n);
    } else if (
      ts.isBinaryExpression(n) &&
      n.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(n.left)
    ) {
      push(assignsByName, n.left.name.text, n);
    }
  }

  /** Call sites (within the component) of the function/method declared by `fn`. */
  const callSitesOf = (fn: ts.SignatureDeclaration): readonly ts.CallLikeExpression[] => {
    let sym: ts.Symbol | undefined;
    if (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) {
      const p = fn.parent;
      if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) sym = symbolOf(p.name);
    } else if (ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) {
      sym = fn.name === undefined ? undefined : symbolOf(fn.name);
    } else if (ts.isConstructorDeclaration(fn) && fn.parent.name !== undefined) {
      sym = symbolOf(fn.parent.name);
    }
    return sym === undefined ? [] : (callsByCallee.get(sym) ?? []);
  };

  /** Initializers of object-literal properties typed by the property `sym` (an options interface member). */
  const propertyFillers = (sym: ts.Symbol): ts.Expression[] => {
    const out: ts.Expression[] = [];
    for (const n of propsByName.get(sym.getName()) ?? []) {
      const contextual = checker.getContextualType(n.parent);
      if (contextual?.getProperty(sym.getName()) === sym) {
        out.push(ts.isPropertyAssignment(n) ? n.initializer : n.name);
      }
    }
    return out;
  };

  interface Found {
    resources: Set<string>;
    status: boolean;
    unresolved: boolean;
  }

  /**
   * Follows `node` to the resource constants it can name. `argText` is true while the text is an argument (or a
   * value flowing into one) rather than a helper's body: only there does `status` mark the subresource.
   */
  const resolve = (node: ts.Node, argText: boolean, seen: Set<ts.Node>, found: Found, depth: number): void => {
    if (seen.has(node) || depth > 12) return;
    seen.add(node);
    if (argText && /\bstatus\b/.test(node.getText())) found.status = true;
    const visitIdentifier = (id: ts.Identifier): void => {
      const sym =
        ts.isShorthandPropertyAssignment(id.parent) && id.parent.name === id
          ? checker.getShorthandAssignmentValueSymbol(id.parent)
          : symbolOf(id);
      const known = Object.hasOwn(RESOURCE_CONSTANTS, id.text) ? RESOURCE_CONSTANTS[id.text] : undefined;
      if (known !== undefined && sym !== undefined) {
        found.resources.add(known.plural);
        return;
      }
      const decl = sym?.valueDeclaration ?? sym?.declarations?.[0];
      if (decl === undefined) return;
      if (!files.includes(decl.getSourceFile())) return; // library or outside the component: not a path source
      if (ts.isVariableDeclaration(decl) && decl.initializer !== undefined) {
        const init = decl.initializer;
        const isFn = ts.isArrowFunction(init) || ts.isFunctionExpression(init);
        resolve(isFn ? init.body : init, argText && !isFn, seen, found, depth + 1);
      } else if (ts.isPropertyAssignment(decl)) {
        const init = decl.initializer;
        const isFn = ts.isArrowFunction(init) || ts.isFunctionExpression(init);
        resolve(isFn ? init.body : init, argText && !isFn, seen, found, depth + 1);
      } else if (ts.isMethodDeclaration(decl) && decl.body !== undefined) {
        resolve(decl.body, false, seen, found, depth + 1);
      } else if (ts.isParameter(decl)) {
        const fn = decl.parent;
        const index = fn.parameters.indexOf(decl);
        const sites = callSitesOf(fn);
        if (sites.length === 0) found.unresolved = true;
        for (const site of sites) {
          const arg = (ts.isCallExpression(site) || ts.isNewExpression(site) ? site.arguments : undefined)?.[index];
          if (arg !== undefined) resolve(arg, true, seen, found, depth + 1);
        }
        // Parameter properties (`private readonly opts: X`) also reach here through `this.opts`.
      } else if (ts.isPropertySignature(decl) || ts.isPropertyDeclaration(decl)) {
        if (ts.isPropertyDeclaration(decl) && decl.initializer !== undefined) {
          resolve(decl.initializer, argText, seen, found, depth + 1);
        }
        for (const filler of propertyFillers(sym!)) resolve(filler, true, seen, found, depth + 1);
        // A class field assigned in the constructor (`this.path = …`).
        for (const n of assignsByName.get(sym!.getName()) ?? []) {
          if (ts.isPropertyAccessExpression(n.left) && symbolOf(n.left.name) === sym) {
            resolve(n.right, argText, seen, found, depth + 1);
          }
        }
      }
    };
    const walk = (n: ts.Node): void => {
      // resourcePath(resource, namespace, name, subresource): only the first argument names the resource.
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'resourcePath') {
        if (n.arguments[0] !== undefined) walk(n.arguments[0]);
        return;
      }
      // Another call: only its callee matters; its parameters are followed from their call sites when the body
      // uses them for the resource.
      if (ts.isCallExpression(n)) {
        walk(n.expression);
        return;
      }
      if (ts.isIdentifier(n)) visitIdentifier(n);
      else if (ts.isPropertyAccessExpression(n)) {
        // `paths.network`: the member decides, not the whole `paths` object.
        if (ts.isIdentifier(n.name) && symbolOf(n.name)?.declarations?.length) visitIdentifier(n.name);
        else walk(n.expression);
      } else ts.forEachChild(n, walk);
    };
    walk(node);
  };

  const calls: ApiCall[] = [];
  const unresolved: string[] = [];
  const clientFile = path.join('src', 'kube', 'client.ts');
  for (const n of allNodes) {
    if (ts.isIdentifier(n) && ['makeApiClient', 'makeInformer'].includes(n.text)) {
      unresolved.push(`${where(n)}: ${n.text}: API access outside KubeClient (the RBAC scan cannot follow it)`);
    }
    if (!ts.isCallExpression(n) || !ts.isPropertyAccessExpression(n.expression)) continue;
    if (rel(n.getSourceFile().fileName) === clientFile) continue;
    const method = n.expression.name.text;
    if (method !== 'request' && METHOD_VERBS[method] === undefined) continue;
    const recvType = checker.getTypeAtLocation(n.expression.expression);
    if (recvType.getSymbol()?.getName() !== 'KubeClient') continue;
    let verb = METHOD_VERBS[method];
    let pathArg = n.arguments[0];
    if (method === 'request') {
      const m = n.arguments[0];
      verb = m !== undefined && ts.isStringLiteralLike(m) ? HTTP_VERBS[m.text] : undefined;
      pathArg = n.arguments[1];
    }
    if (verb === undefined || pathArg === undefined) {
      unresolved.push(`${where(n)}: ${n.getText().slice(0, 80)}: cannot tell the verb`);
      continue;
    }
    const found: Found = { resources: new Set(), status: false, unresolved: false };
    resolve(pathArg, true, new Set(), found, 0);
    if (found.resources.size === 0) {
      unresolved.push(`${where(n)}: ${n.getText().slice(0, 80)}: cannot tell which resource the path names`);
      continue;
    }
    const resources = [...found.resources].map((r) => (found.status ? `${r}/status` : r)).sort();
    calls.push({
      file: rel(n.getSourceFile().fileName),
      line: Number(where(n).split(':').pop()),
      verb,
      resources,
      text: n.getText().slice(0, 100),
    });
  }

  const perms = new Map<string, Permission>();
  for (const c of calls) {
    for (const resource of c.resources) {
      const p = { group: groupOf(resource), resource, verb: c.verb };
      perms.set(`${p.group}|${p.resource}|${p.verb}`, p);
    }
  }
  return {
    files: files.map((f) => rel(f.fileName)).sort(),
    calls,
    unresolved,
    permissions: [...perms.values()].sort(
      (a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource) || a.verb.localeCompare(b.verb),
    ),
  };
}
