export * from '@laminate/core';
