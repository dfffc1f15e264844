/** Placeholder until the modules land: `pel demo` (issue "Built-in modules"). */
export async function runDemo(_args: string[], _rpc: string): Promise<number> {
  console.error('pel demo: not available yet');
  return 2;
}
