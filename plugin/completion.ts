// Shell completion. The scripts call back `kubectl-peernet __complete WORDS... PARTIAL`, which
// prints the candidates one a line and then `:4` (cobra's "no file completion" directive): the
// format kubectl (1.26+) expects from a `kubectl_complete-peernet` executable, so the same
// answer serves `kubectl peernet <TAB>` too.
import { BOOL_FLAGS, SHORT, VALUE_FLAGS, VERBS } from './args.js';

/** What completion may look up (each best effort: a failure completes nothing). */
export interface CompletionLookup {
  networks(): Promise<string[]>;
  namespaces(): Promise<string[]>;
  /** peer names and pod names of a network */
  peers(network: string): Promise<string[]>;
}

const NO_FILES = ':4';

/** The words typed so far: positional arguments, flag values, and a flag awaiting its value. */
export function scanWords(words: readonly string[]): {
  pos: string[];
  flags: Map<string, string>;
  pending?: string;
  partial: string;
} {
  const pos: string[] = [];
  const flags = new Map<string, string>();
  let pending: string | undefined;
  for (const w of words.slice(0, -1)) {
    if (pending !== undefined) {
      flags.set(pending, w);
      pending = undefined;
    } else if (w.startsWith('-') && w !== '-') {
      const eq = w.indexOf('=');
      const name = SHORT[w] ?? (eq > 0 ? w.slice(0, eq) : w);
      if (eq > 0) flags.set(name, w.slice(eq + 1));
      else if (VALUE_FLAGS.includes(name)) pending = name;
    } else pos.push(w);
  }
  return { pos, flags, ...(pending ? { pending } : {}), partial: words.at(-1) ?? '' };
}

export async function complete(
  words: readonly string[],
  lookup: CompletionLookup,
): Promise<string> {
  const { pos, pending, partial } = scanWords(words);
  const safe = async (f: () => Promise<string[]>) => {
    try {
      return await f();
    } catch {
      return [];
    }
  };
  const network = pos[1];
  let out: string[] = [];
  if (pending === '--namespace') out = await safe(() => lookup.namespaces());
  else if (pending === '--output') out = ['json'];
  else if (pending === '--peer' && network) out = await safe(() => lookup.peers(network));
  else if (pending !== undefined) out = [];
  else if (partial.startsWith('-')) out = [...VALUE_FLAGS, ...BOOL_FLAGS];
  else if (pos.length === 0) out = Object.keys(VERBS);
  else {
    const slot = (VERBS as Record<string, readonly string[]>)[pos[0]!]?.[pos.length - 1];
    if (slot === 'NETWORK') out = await safe(() => lookup.networks());
    else if (slot === 'bash|zsh') out = ['bash', 'zsh'];
    else if (slot === 'PEER' && network) out = await safe(() => lookup.peers(network));
  }
  return [...out.filter((c) => c.startsWith(partial)), NO_FILES].join('\n') + '\n';
}

export function completionScript(shell: 'bash' | 'zsh'): string {
  if (shell === 'bash')
    return `# bash completion for kubectl-peernet: source <(kubectl-peernet completion bash)
_kubectl_peernet() {
  local cur=\${COMP_WORDS[COMP_CWORD]} IFS=$'\\n'
  COMPREPLY=($(kubectl-peernet __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null | grep -v '^:'))
}
complete -F _kubectl_peernet kubectl-peernet
`;
  return `#compdef kubectl-peernet
# zsh completion for kubectl-peernet: source <(kubectl-peernet completion zsh)
_kubectl_peernet() {
  local -a cands
  cands=(\${(f)"$(kubectl-peernet __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null | grep -v '^:')"})
  compadd -a cands
}
if [ "$funcstack[1]" = "_kubectl_peernet" ]; then _kubectl_peernet "$@"; else compdef _kubectl_peernet kubectl-peernet; fi
`;
}
