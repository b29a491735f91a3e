export { dropTestDatabase } from '@wallet/testkit';
