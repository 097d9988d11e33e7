import { API_CLIENT, startProviderApis } from './provider-apis.js';
import type { ProviderApis } from './provider-apis.js';
import type { TestApp, TestKit } from './test-kit.js';

/** The loopback provider APIs, and an app of `kit` that signs in with them through the GitHub preset. */
export async function startGithubApp(kit: TestKit): Promise<{ apis: ProviderApis; app: TestApp }> {
  const apis = await startProviderApis();
  const app = await kit.variant({ oauth: { providers: { github: { preset: 'github', ...API_CLIENT, endpoints: apis.endpoints('github') } } } });
  return { apis, app };
}
