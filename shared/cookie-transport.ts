/**
 * The request header by which a browser client asks for cookie mode: every refresh token the server
 * hands out travels in an `HttpOnly` cookie instead of the response body.
 */
export const COOKIE_TRANSPORT_HEADER = 'x-auth-token-transport';
