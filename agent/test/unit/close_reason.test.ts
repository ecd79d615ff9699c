import { CloseReason, MAX_ERROR_CHARS } from '@connlog/proto';
import { describe, expect, it } from 'vitest';
import {
  boundError,
  cleanOutcome,
  dialOutcome,
  dialTimeoutOutcome,
  socketOutcome,
  udpTargetOutcome,
} from '../../src/proxy/close_reason.js';

function errno(code: string, message = `connect ${code} 10.0.0.5:5432`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('close reasons', () => {
  it('UDP: ICMP unreachable before any reply → dial_failed, after replies → reset', () => {
    expect(udpTargetOutcome(errno('ECONNREFUSED'), false)).toEqual({
      reason: CloseReason.DIAL_FAILED,
      error: 'connect ECONNREFUSED 10.0.0.5:5432',
    });
    expect(udpTargetOutcome(errno('ECONNREFUSED'), true)).toEqual({
      reason: CloseReason.RESET,
      error: 'target: connect ECONNREFUSED 10.0.0.5:5432',
    });
    expect(udpTargetOutcome(errno('EHOSTUNREACH'), true).reason).toBe(CloseReason.RESET);
    expect(udpTargetOutcome(errno('EMSGSIZE'), true).reason).toBe(CloseReason.ERROR);
  });

  it.each([
    'ECONNREFUSED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EADDRNOTAVAIL',
  ])('dial error %s → dial_failed with the message', (code) => {
    const outcome = dialOutcome(errno(code));
    expect(outcome.reason).toBe(CloseReason.DIAL_FAILED);
    expect(outcome.error).toBe(`connect ${code} 10.0.0.5:5432`);
  });

  it('kernel connect timeout → dial_timeout; our timer → dial_timeout', () => {
    expect(dialOutcome(errno('ETIMEDOUT')).reason).toBe(CloseReason.DIAL_TIMEOUT);
    expect(dialTimeoutOutcome(1500)).toEqual({
      reason: CloseReason.DIAL_TIMEOUT,
      error: 'no connection within 1500 ms',
    });
  });

  it('happy-eyeballs AggregateError uses the first attempt’s code', () => {
    const err = new AggregateError([errno('ECONNREFUSED'), errno('ECONNREFUSED')], 'all failed');
    expect(dialOutcome(err).reason).toBe(CloseReason.DIAL_FAILED);
  });

  it('an unknown dial failure → error', () => {
    const outcome = dialOutcome(new Error('weird'));
    expect(outcome).toEqual({ reason: CloseReason.ERROR, error: 'dial: weird' });
  });

  it.each(['ECONNRESET', 'EPIPE'])('%s on an open session → reset, naming the side', (code) => {
    const outcome = socketOutcome('target', errno(code, `read ${code}`));
    expect(outcome).toEqual({ reason: CloseReason.RESET, error: `target: read ${code}` });
  });

  it('other socket errors → error', () => {
    expect(socketOutcome('client', errno('EIO', 'disk on fire')).reason).toBe(CloseReason.ERROR);
  });

  it('clean close: whoever ended first', () => {
    expect(cleanOutcome('client')).toEqual({ reason: CloseReason.CLIENT_CLOSED, error: '' });
    expect(cleanOutcome('target')).toEqual({ reason: CloseReason.TARGET_CLOSED, error: '' });
  });

  it('bounds error text to the wire limit, on one line', () => {
    const long = boundError(`line one\nline two ${'x'.repeat(1000)}`);
    expect(long.length).toBe(MAX_ERROR_CHARS);
    expect(long).toMatch(/^line one line two x+\.\.\.$/);
  });
});
