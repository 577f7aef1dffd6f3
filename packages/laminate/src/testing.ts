export * from '@laminate/core/testing';
