import { describe, expect, it } from 'vitest';
import { LaminateError, isLaminateError } from '@laminate/core';
import { typeError } from '@laminate/core/layer';

describe('LaminateError', () => {
  it('is what instanceof finds for every deliberate error, TypeErrors included', () => {
    const plain = new LaminateError('ERR_LOCKED', 'locked');
    const wrongType = typeError('ERR_VALUE_TYPE', 'wrong');
    expect(plain).toBeInstanceOf(LaminateError);
    expect(wrongType).toBeInstanceOf(LaminateError);
    expect(wrongType).toBeInstanceOf(TypeError);
    expect(new Error('other')).not.toBeInstanceOf(LaminateError);
    expect(isLaminateError(wrongType, 'ERR_VALUE_TYPE')).toBe(true);
    expect(isLaminateError(wrongType, 'ERR_LOCKED')).toBe(false);
  });

  it('leaves subclasses their own instanceof', () => {
    class UsageProblem extends LaminateError {}
    const usage = new UsageProblem('ERR_INVALID_OPTION', 'bad flag');
    expect(usage).toBeInstanceOf(UsageProblem);
    expect(usage).toBeInstanceOf(LaminateError);
    expect(new LaminateError('ERR_INVALID_OPTION', 'other')).not.toBeInstanceOf(UsageProblem);
    expect(typeError('ERR_INVALID_OPTION', 'other')).not.toBeInstanceOf(UsageProblem);
  });
});
